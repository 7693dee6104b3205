//! The payload hash a request is signed with, when the caller already knows the body's SHA-256.
//!
//! SigV4 signs a hash of the body (`x-amz-content-sha256`). aws-sdk-s3 hashes a body that is in
//! memory and sends `UNSIGNED-PAYLOAD` for a streamed one (a file). An attachment and each of its
//! parts carry the SHA-256 the writer computed, in `x-amz-checksum-sha256`; they are signed with
//! that same digest instead:
//!
//! - every SigV4 server compares the bytes it receives with the signed hash and refuses a
//!   mismatch (`XAmzContentSHA256Mismatch`), including servers that ignore
//!   `x-amz-checksum-sha256`: Ceph RGW 16.2 stores a body whatever checksum header came with
//!   it, and checks only the signed hash (measured; a streamed file was not checked at all);
//! - the SDK does not hash a part's bytes a second time.
//!
//! Segments keep the SDK's own hash of their bytes (their checksum is a CRC-32, not a SHA-256).

use aws_runtime::auth::PayloadSigningOverride;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// How one request's body is signed: with a known SHA-256 (64 lowercase hex digits), or as
/// the SDK would.
#[derive(Debug)]
pub(crate) struct SignedPayload(Option<String>);

impl SignedPayload {
    pub(crate) fn with_sha256(digest: &[u8; 32]) -> SignedPayload {
        SignedPayload(Some(wormlog_store::hex_sha256(digest)))
    }

    pub(crate) fn sdk_default() -> SignedPayload {
        SignedPayload(None)
    }
}

impl Intercept for SignedPayload {
    fn name(&self) -> &'static str {
        "SignedPayload"
    }

    fn modify_before_signing(
        &self,
        _context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(hex) = &self.0 {
            cfg.interceptor_state()
                .store_put(PayloadSigningOverride::Precomputed(hex.clone()));
        }
        Ok(())
    }
}
