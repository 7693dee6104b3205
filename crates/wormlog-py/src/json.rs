//! Python values to JSON text, and back.
//!
//! Writing: `dict` (string keys, in insertion order), `list`/`tuple`, `str`, `int` (its exact
//! decimal text, up to Python's own limit of digits), `float` (its shortest round-trip text; NaN and infinities are
//! refused, JSON has none), `bool` and `None`. Anything else is `InvalidInput` naming its
//! type, never a silent `str()`. Done in Rust rather than by `json.dumps`, which is several
//! times slower per event. Reading: `json.loads` of the event's text as stored.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::errors::invalid;

/// Nesting deeper than this is refused (a cycle would otherwise recurse forever).
const MAX_DEPTH: usize = 100;

/// The JSON text of `value`.
pub(crate) fn to_json(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let mut out = String::with_capacity(128);
    write_value(value, &mut out, 0)?;
    Ok(out)
}

fn write_value(value: &Bound<'_, PyAny>, out: &mut String, depth: usize) -> PyResult<()> {
    if depth > MAX_DEPTH {
        return Err(invalid(format!(
            "the data is nested more than {MAX_DEPTH} levels deep (or contains itself); flatten it"
        )));
    }
    if value.is_none() {
        out.push_str("null");
    } else if let Ok(s) = value.cast::<PyString>() {
        write_str(&text(s)?, out);
    } else if let Ok(b) = value.cast::<PyBool>() {
        out.push_str(if b.is_true() { "true" } else { "false" });
    } else if value.is_instance_of::<PyInt>() {
        // `int.__repr__` itself, not a subclass's (an IntEnum's name, or a __str__ that
        // writes more JSON): exact decimal digits at any size, no rounding through a double.
        let digits = value
            .py()
            .get_type::<PyInt>()
            .call_method1("__repr__", (value,))
            .map_err(|e| {
                invalid(format!(
                    "an int of the data has no decimal text here ({e}); store it as a string"
                ))
            })?;
        out.push_str(&digits.cast::<PyString>()?.to_cow()?);
    } else if let Ok(f) = value.cast::<PyFloat>() {
        let v = f.value();
        if !v.is_finite() {
            return Err(invalid(format!(
                "the data holds the float {v}, which JSON cannot represent; store it as a string"
            )));
        }
        // `float.__repr__` itself (as json.dumps writes it, `1e+16`), not a subclass's
        // (numpy's float64 repr is `np.float64(0.1)`).
        let text = value
            .py()
            .get_type::<PyFloat>()
            .call_method1("__repr__", (value,))?;
        out.push_str(&text.cast::<PyString>()?.to_cow()?);
    } else if let Ok(d) = value.cast::<PyDict>() {
        out.push('{');
        for (i, (k, v)) in d.iter().enumerate() {
            let Ok(key) = k.cast::<PyString>() else {
                return Err(invalid(format!(
                    "a dict key of the data is a {}, not a str; JSON object keys are strings",
                    type_name(&k)
                )));
            };
            if i > 0 {
                out.push(',');
            }
            write_str(&text(key)?, out);
            out.push(':');
            write_value(&v, out, depth + 1)?;
        }
        out.push('}');
    } else if let Ok(l) = value.cast::<PyList>() {
        write_items(l.iter(), out, depth)?;
    } else if let Ok(t) = value.cast::<PyTuple>() {
        write_items(t.iter(), out, depth)?;
    } else {
        return Err(invalid(format!(
            "the data holds a {}, which is not JSON; pass dict, list, str, int, float, bool or None (or bytes for a raw payload)",
            type_name(value)
        )));
    }
    Ok(())
}

fn write_items<'py>(
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    out: &mut String,
    depth: usize,
) -> PyResult<()> {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(&item, out, depth + 1)?;
    }
    out.push(']');
    Ok(())
}

fn write_str(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).expect("a str serialises"));
}

fn text<'a>(s: &'a Bound<'_, PyString>) -> PyResult<std::borrow::Cow<'a, str>> {
    s.to_cow()
        .map_err(|_| invalid("a str in the data is not valid Unicode (it holds a lone surrogate)"))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "value of unknown type".into())
}

/// The Python value of JSON text (`json.loads`).
pub(crate) fn from_json<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?.call_method1("loads", (text,))
}
