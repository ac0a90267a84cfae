//! The MSK IAM authentication token (SASL/OAUTHBEARER) for Kafka clients on Amazon MSK.
//!
//! The token is the one AWS's signer libraries (`aws-msk-iam-sasl-signer-{python,go,java}`)
//! build: a SigV4-presigned URL for the action `kafka-cluster:Connect`,
//!
//! ```text
//! https://kafka.{region}.amazonaws.com/?Action=kafka-cluster%3AConnect&X-Amz-Algorithm=...
//!     &X-Amz-Credential=.../{date}/{region}/kafka-cluster/aws4_request&X-Amz-Date=...
//!     &X-Amz-Expires=900&X-Amz-SignedHeaders=host[&X-Amz-Security-Token=...]
//!     &X-Amz-Signature=...&User-Agent=...
//! ```
//!
//! encoded as base64url without padding. The broker checks the signature and the expiry; the
//! token's lifetime is the presigned URL's (15 min) or the credentials' expiry, if sooner, and
//! librdkafka asks for a new token at about 80 % of it.
//!
//! [`auth_token`] is a pure function of the credentials, the region and the time, so its output
//! is checked against a vector computed independently with botocore's `SigV4QueryAuth` (the
//! unit tests below). Written here rather than taken from the `aws-msk-iam-sasl-signer` crate:
//! that crate reads the clock and reloads the credential chain on every call, so neither a
//! fixed vector nor a cached provider is possible with it (docs/operations.md, "Kafka
//! authentication").

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How long a presigned token is valid (what AWS's signers use).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);

/// The signing name of MSK's IAM access control.
const SERVICE: &str = "kafka-cluster";

/// A token for librdkafka's `rd_kafka_oauthbearer_set_token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MskToken {
    /// The base64url token.
    pub token: String,
    /// When it expires, in milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
}

/// Why no token could be made (bad region or time; never an I/O error).
#[derive(Debug, thiserror::Error)]
#[error("MSK IAM token: {0}")]
pub struct TokenError(String);

/// The MSK IAM token for `credentials` in `region` at `now`; `user_agent` is appended to the
/// URL as AWS's signers do (brokers log it).
pub fn auth_token(
    credentials: &Credentials,
    region: &str,
    now: SystemTime,
    user_agent: &str,
) -> Result<MskToken, TokenError> {
    if region.is_empty()
        || !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(TokenError(format!("invalid region {region:?}")));
    }
    let base = format!("https://kafka.{region}.amazonaws.com/?Action=kafka-cluster%3AConnect");
    let identity = credentials.clone().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| TokenError(e.to_string()))?
        .into();
    let request = SignableRequest::new(
        "GET",
        base.as_str(),
        std::iter::empty(),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| TokenError(e.to_string()))?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| TokenError(e.to_string()))?
        .into_parts();
    let mut url = url::Url::parse(&base).map_err(|e| TokenError(e.to_string()))?;
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in instructions.params() {
            q.append_pair(k, v);
        }
        q.append_pair("User-Agent", user_agent);
    }
    let signed_at = now
        .duration_since(UNIX_EPOCH)
        .map_err(|e| TokenError(e.to_string()))?;
    let mut expires = signed_at + TOKEN_LIFETIME;
    if let Some(exp) = credentials.expiry()
        && let Ok(exp) = exp.duration_since(UNIX_EPOCH)
    {
        expires = expires.min(exp);
    }
    Ok(MskToken {
        token: URL_SAFE_NO_PAD.encode(url.as_str()),
        expires_at_ms: i64::try_from(expires.as_millis()).unwrap_or(i64::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// 2024-01-02T03:04:05Z.
    fn when() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_704_164_645)
    }

    fn decode(token: &str) -> (String, BTreeMap<String, String>) {
        let url = String::from_utf8(URL_SAFE_NO_PAD.decode(token).expect("base64url")).unwrap();
        let parsed = url::Url::parse(&url).expect("url");
        let base = format!(
            "{}://{}{}",
            parsed.scheme(),
            parsed.host_str().unwrap(),
            parsed.path()
        );
        (base, parsed.query_pairs().into_owned().collect())
    }

    /// The vector: botocore 1.43 `SigV4QueryAuth(creds, "kafka-cluster", "us-east-1",
    /// expires=900)` on `GET https://kafka.us-east-1.amazonaws.com/?Action=kafka-cluster:Connect`
    /// at the frozen time above, as AWS's Python signer builds the token.
    #[test]
    fn the_token_matches_an_independent_sigv4_vector() {
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        let t = auth_token(&creds, "us-east-1", when(), "hsi-test/0").unwrap();
        let (base, q) = decode(&t.token);
        assert_eq!(base, "https://kafka.us-east-1.amazonaws.com/");
        let want: BTreeMap<String, String> = [
            ("Action", "kafka-cluster:Connect"),
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            (
                "X-Amz-Credential",
                "AKIDEXAMPLE/20240102/us-east-1/kafka-cluster/aws4_request",
            ),
            ("X-Amz-Date", "20240102T030405Z"),
            ("X-Amz-Expires", "900"),
            ("X-Amz-SignedHeaders", "host"),
            (
                "X-Amz-Signature",
                "d976a63334b2f60e682ba65032cd9e985cc525f9be809dba495984f866910124",
            ),
            ("User-Agent", "hsi-test/0"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(q, want);
        assert_eq!(t.expires_at_ms, 1_704_164_645_000 + 900_000);
        assert!(!t.token.contains('=') && !t.token.contains('+') && !t.token.contains('/'));
    }

    #[test]
    fn a_session_token_is_signed_and_an_earlier_credential_expiry_wins() {
        let expiry = when() + Duration::from_secs(60);
        let creds = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            Some("SESSION/TOKEN+x=".into()),
            Some(expiry),
            "test",
        );
        let t = auth_token(&creds, "us-east-1", when(), "hsi-test/0").unwrap();
        let (_, q) = decode(&t.token);
        assert_eq!(q["X-Amz-Security-Token"], "SESSION/TOKEN+x=");
        assert_eq!(
            q["X-Amz-Signature"],
            "28260221449d46b8957219ebdcb6143c45a52b392fdcc282cfc6f1f3394ca24f"
        );
        assert_eq!(t.expires_at_ms, 1_704_164_645_000 + 60_000);
    }

    #[test]
    fn a_hostile_region_is_refused() {
        let creds = Credentials::new("A", "B", None, None, "test");
        for r in ["", "us-east-1/evil", "a b"] {
            assert!(auth_token(&creds, r, when(), "x").is_err(), "{r:?}");
        }
    }
}
