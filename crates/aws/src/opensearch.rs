//! The OpenSearch / Elasticsearch `_bulk` transport, on the `opensearch` crate.

use cwlogs_pipeline::sink::{BulkTransport, MAX_RESPONSE_BYTES, Reply};
use cwlogs_pipeline::{Class, IndexAuth, IndexConfig, SendError};
use opensearch::http::headers::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue};
use opensearch::http::transport::{SingleNodeConnectionPool, Transport, TransportBuilder};
use opensearch::http::{Method, Url};
use std::future::Future;
use std::time::{Duration, Instant};

/// How requests to the cluster are authenticated, with the secrets resolved.
#[derive(Clone)]
pub enum Auth {
    /// AWS SigV4 with these credentials, for service `es` (OpenSearch Service) or `aoss`
    /// (OpenSearch Serverless), in `region`.
    SigV4 {
        /// Where credentials come from (refreshed as they expire).
        credentials: aws_credential_types::provider::SharedCredentialsProvider,
        /// The signing region.
        region: String,
        /// `es` or `aoss`.
        service: &'static str,
    },
    /// HTTP basic auth.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// `Authorization: ApiKey <key>` (the encoded key Elasticsearch hands out).
    ApiKey(String),
    /// No authentication.
    None,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Auth::SigV4 {
                region, service, ..
            } => write!(f, "SigV4({service}, {region})"),
            Auth::Basic { username, .. } => write!(f, "Basic({username})"),
            Auth::ApiKey(_) => f.write_str("ApiKey"),
            Auth::None => f.write_str("None"),
        }
    }
}

impl Auth {
    /// Resolves `config`'s `auth` for `endpoint`: SigV4 uses the credentials of `sdk` and the
    /// region in the endpoint's host name (else `sdk`'s, else `fallback_region`); basic auth
    /// and API keys come from `CWLOGS_INDEX_USERNAME` / `CWLOGS_INDEX_PASSWORD` and
    /// `CWLOGS_INDEX_API_KEY` through `env`.
    pub fn resolve(
        auth: IndexAuth,
        endpoint: &str,
        sdk: Option<&aws_config::SdkConfig>,
        fallback_region: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Auth, String> {
        let need = |name: &str| {
            env(name)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("`auth = \"{}\"` needs {name}", auth.as_str()))
        };
        Ok(match auth {
            IndexAuth::None => Auth::None,
            IndexAuth::Basic => Auth::Basic {
                username: need("CWLOGS_INDEX_USERNAME")?,
                password: need("CWLOGS_INDEX_PASSWORD")?,
            },
            IndexAuth::ApiKey => Auth::ApiKey(need("CWLOGS_INDEX_API_KEY")?),
            IndexAuth::SigV4 | IndexAuth::SigV4Serverless => {
                let credentials = sdk
                    .and_then(aws_config::SdkConfig::credentials_provider)
                    .ok_or("SigV4 needs AWS credentials, and none were found in the environment")?;
                let region = region_of(endpoint)
                    .or_else(|| sdk.and_then(|s| s.region()).map(|r| r.as_ref().to_string()))
                    .unwrap_or_else(|| fallback_region.to_string());
                Auth::SigV4 {
                    credentials,
                    region,
                    service: if auth == IndexAuth::SigV4Serverless {
                        "aoss"
                    } else {
                        "es"
                    },
                }
            }
        })
    }
}

/// The region in an AWS endpoint's host name: `search-x-abc.eu-west-1.es.amazonaws.com` and
/// `abc.us-east-1.aoss.amazonaws.com` give the region; custom domains give `None`.
pub fn region_of(endpoint: &str) -> Option<String> {
    let host = Url::parse(endpoint).ok()?.host_str()?.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels
        .iter()
        .position(|l| *l == "es" || *l == "aoss")
        .filter(|&i| i >= 1 && labels.get(i + 1) == Some(&"amazonaws"))?;
    Some(labels[at - 1].to_string())
}

/// A cluster reached over HTTP(S): `_bulk` for [`cwlogs_pipeline::index::send_items`], and the
/// few other calls cwlogs makes (index templates, `_count`, `_refresh`).
#[derive(Debug, Clone)]
pub struct OpenSearchIndex {
    transport: Transport,
    endpoint: String,
}

/// The longest one request may take when the caller gives no deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

impl OpenSearchIndex {
    /// A client for the cluster at `endpoint` (`https://host[:port][/path]`).
    pub fn new(endpoint: &str, auth: Auth) -> Result<OpenSearchIndex, String> {
        // reqwest is built with rustls but no crypto provider (see the workspace manifest): use
        // ring, the provider of the AWS SDK's client. Installing twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut base = endpoint.trim_end_matches('/').to_string();
        base.push('/');
        let url = Url::parse(&base).map_err(|e| format!("index endpoint `{endpoint}`: {e}"))?;
        let mut builder = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .timeout(REQUEST_TIMEOUT)
            .disable_proxy();
        builder = match auth {
            Auth::SigV4 {
                credentials,
                region,
                service,
            } => builder
                .auth(opensearch::auth::Credentials::AwsSigV4(
                    credentials,
                    aws_types::region::Region::new(region),
                ))
                .service_name(service),
            Auth::Basic { username, password } => {
                builder.auth(opensearch::auth::Credentials::Basic(username, password))
            }
            Auth::ApiKey(key) => {
                let mut value = HeaderValue::from_str(&format!("ApiKey {key}"))
                    .map_err(|_| "CWLOGS_INDEX_API_KEY is not a valid header value".to_string())?;
                value.set_sensitive(true);
                builder.header(opensearch::http::headers::AUTHORIZATION, value)
            }
            Auth::None => builder,
        };
        let transport = builder
            .build()
            .map_err(|e| format!("index endpoint `{endpoint}`: {e}"))?;
        Ok(OpenSearchIndex {
            transport,
            endpoint: endpoint.trim_end_matches('/').to_string(),
        })
    }

    /// A client for `config` (its endpoint and auth), with SigV4 credentials from `sdk`.
    pub fn from_config(
        config: &IndexConfig,
        sdk: Option<&aws_config::SdkConfig>,
        fallback_region: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<OpenSearchIndex, String> {
        let endpoint = config
            .endpoint
            .as_deref()
            .ok_or("no index endpoint: set `endpoint` in [index] or CWLOGS_INDEX_ENDPOINT")?;
        let auth = Auth::resolve(config.auth, endpoint, sdk, fallback_region, env)?;
        OpenSearchIndex::new(endpoint, auth)
    }

    /// The endpoint, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one request and reads the answer (any status), within `deadline`.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        deadline: Option<Instant>,
    ) -> Result<Reply, SendError> {
        let timeout = match deadline {
            Some(d) => d.saturating_duration_since(Instant::now()),
            None => REQUEST_TIMEOUT,
        };
        let what = format!(
            "{} {}/{}",
            method_name(method),
            self.endpoint,
            path.trim_start_matches('/')
        );
        // The client's own timeout a little later than ours, so that a slow answer is reported
        // as what it is: no answer before the deadline.
        let sent = self.transport.send(
            method,
            path,
            headers,
            None::<&()>,
            body,
            Some(timeout + Duration::from_millis(500)),
        );
        let response = match tokio::time::timeout(timeout, sent).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                let text = error_chain(&e);
                let class = if text.contains("Signing Failed") {
                    Class::Reject
                } else {
                    Class::Retry
                };
                return Err(SendError {
                    class,
                    message: format!("{what}: {text}"),
                });
            }
            Err(_) => {
                return Err(SendError {
                    class: Class::Retry,
                    message: format!("{what}: no answer before the deadline"),
                });
            }
        };
        let status = response.status_code().as_u16();
        if response
            .content_length()
            .is_some_and(|n| n > MAX_RESPONSE_BYTES as u64)
        {
            return Err(SendError {
                class: Class::Retry,
                message: format!("{what}: an answer larger than {MAX_RESPONSE_BYTES} bytes"),
            });
        }
        let body = response.bytes().await.map_err(|e| SendError {
            class: Class::Retry,
            message: format!("{what}: reading the answer: {}", error_chain(&e)),
        })?;
        Ok(Reply {
            status,
            body: body.to_vec(),
        })
    }

    /// Sends a JSON request and returns the answer when it is 2xx; else an error with the
    /// status and body.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<serde_json::Value, SendError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let reply = self
            .request(
                method,
                path,
                headers,
                body,
                Some(Instant::now() + REQUEST_TIMEOUT),
            )
            .await?;
        if !(200..300).contains(&reply.status) {
            return Err(SendError {
                class: if reply.status == 429 || reply.status >= 500 {
                    Class::Retry
                } else {
                    Class::Reject
                },
                message: format!(
                    "{} {path}: {} {}",
                    method_name(method),
                    reply.status,
                    String::from_utf8_lossy(&reply.body[..reply.body.len().min(500)])
                ),
            });
        }
        if reply.body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&reply.body).map_err(|e| SendError {
            class: Class::Retry,
            message: format!("{} {path}: not JSON: {e}", method_name(method)),
        })
    }

    /// Installs the index templates of `config` ([`cwlogs_pipeline::index::mapping_templates`]):
    /// `PUT _index_template/<name>` each. Returns the names installed.
    pub async fn install_templates(&self, config: &IndexConfig) -> Result<Vec<String>, SendError> {
        let mut names = Vec::new();
        for (name, body) in cwlogs_pipeline::index::mapping_templates(config)? {
            self.json(Method::Put, &format!("_index_template/{name}"), Some(&body))
                .await?;
            names.push(name);
        }
        Ok(names)
    }

    /// Makes what was indexed searchable now (`POST {index}/_refresh`).
    pub async fn refresh(&self, index: &str) -> Result<(), SendError> {
        self.json(Method::Post, &format!("{index}/_refresh"), None)
            .await
            .map(drop)
    }

    /// Documents in `index` (a name, pattern or comma-separated list), from `_count`.
    pub async fn count(&self, index: &str) -> Result<u64, SendError> {
        let v = self
            .json(Method::Get, &format!("{index}/_count"), None)
            .await?;
        v["count"].as_u64().ok_or_else(|| SendError {
            class: Class::Retry,
            message: format!("GET {index}/_count: no count in {v}"),
        })
    }
}

fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Put => "PUT",
        Method::Post => "POST",
        Method::Delete => "DELETE",
        Method::Head => "HEAD",
    }
}

/// An error with its sources, for messages that say what actually failed (refused
/// connection, DNS, TLS, timeout).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}

impl BulkTransport for OpenSearchIndex {
    fn post_bulk(
        &self,
        body: Vec<u8>,
        gzip: bool,
        deadline: Option<Instant>,
    ) -> impl Future<Output = Result<Reply, SendError>> + Send {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        if gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        self.request(Method::Post, "_bulk", headers, Some(body), deadline)
    }

    fn sleep(&self, delay: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_from_host_names() {
        assert_eq!(
            region_of("https://search-logs-abc123.eu-west-1.es.amazonaws.com").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            region_of("https://abc.us-east-1.aoss.amazonaws.com:443/").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(
            region_of("https://vpc-x.cn-north-1.es.amazonaws.com.cn").as_deref(),
            Some("cn-north-1")
        );
        assert_eq!(region_of("https://search.example.com"), None);
        assert_eq!(region_of("not a url"), None);
    }

    #[test]
    fn auth_needs_its_secrets() {
        let env = |_: &str| None;
        let e = Auth::resolve(IndexAuth::Basic, "http://x", None, "r", &env).expect_err("no user");
        assert!(e.contains("CWLOGS_INDEX_USERNAME"), "{e}");
        let e = Auth::resolve(IndexAuth::SigV4, "http://x", None, "r", &env).expect_err("no sdk");
        assert!(e.contains("credentials"), "{e}");
        let env = |k: &str| (k == "CWLOGS_INDEX_API_KEY").then(|| "abc".to_string());
        let a = Auth::resolve(IndexAuth::ApiKey, "http://x", None, "r", &env).expect("key");
        assert_eq!(format!("{a:?}"), "ApiKey");
    }
}
