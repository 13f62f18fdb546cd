//! The OpenSearch / Elasticsearch `_bulk` transport, on the `opensearch` crate.

use crate::error::error_chain;
use crate::retry::time_left;
use cwlogs_pipeline::sink::{BulkTransport, MAX_RESPONSE_BYTES, Reply};
use cwlogs_pipeline::{Class, IndexAuth, IndexConfig, SendError};
use opensearch::http::headers::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue};
use opensearch::http::transport::{
    BuildError, SingleNodeConnectionPool, Transport, TransportBuilder,
};
use opensearch::http::{Method, Url};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Why [`OpenSearchIndex::new`] could not make a client for an endpoint.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not a URL.
    #[error("index endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint {
        /// The endpoint as given.
        endpoint: String,
        /// What the URL parser found wrong with it.
        reason: String,
    },
    /// The API key cannot be sent in an HTTP header (a control character, a non-ASCII byte).
    #[error("CWLOGS_INDEX_API_KEY is not a valid header value")]
    InvalidApiKey,
    /// The HTTP client could not be built for the endpoint.
    #[error("index endpoint `{endpoint}`: {error}")]
    Transport {
        /// The endpoint as given.
        endpoint: String,
        /// The client's reason.
        error: BuildError,
    },
}

/// Why a client could not be made from the `[index]` configuration ([`Auth::resolve`],
/// [`OpenSearchIndex::from_config`]): something missing from it or from the environment, or
/// a [`ClientError`].
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No endpoint is configured.
    #[error("no index endpoint: set `endpoint` in [index] or CWLOGS_INDEX_ENDPOINT")]
    NoEndpoint,
    /// The `auth` setting needs a secret that the environment does not hold (or holds empty).
    #[error("`auth = \"{}\"` needs {variable}", auth.as_str())]
    MissingSecret {
        /// The `auth` setting.
        auth: IndexAuth,
        /// The environment variable it needs.
        variable: &'static str,
    },
    /// SigV4 signing without AWS credentials.
    #[error("SigV4 needs AWS credentials, and none were found in the environment")]
    NoCredentials,
    /// The credentials could not be read from where they are kept (an [`AuthSource`]: the
    /// Secrets Manager secret); the message says which problem and what to fix.
    #[error("{0}")]
    Secret(String),
    /// The client could not be made for the endpoint.
    #[error(transparent)]
    Client(#[from] ClientError),
}

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
    /// Whether `self` and `other` are the same credentials (compared in memory only).
    fn same_as(&self, other: &Auth) -> bool {
        match (self, other) {
            (
                Auth::Basic { username, password },
                Auth::Basic {
                    username: u,
                    password: p,
                },
            ) => username == u && password == p,
            (Auth::ApiKey(a), Auth::ApiKey(b)) => a == b,
            (Auth::None, Auth::None) => true,
            _ => false,
        }
    }

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
    ) -> Result<Auth, ConfigError> {
        let need = |variable: &'static str| {
            env(variable)
                .filter(|v| !v.is_empty())
                .ok_or(ConfigError::MissingSecret { auth, variable })
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
                    .ok_or(ConfigError::NoCredentials)?;
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

/// Where credentials that can change are read from (the Secrets Manager secret of `[index]
/// secret`): once when the client is made, and again when the cluster answers 401 or 403.
pub trait AuthSource: Send + Sync + std::fmt::Debug {
    /// Reads the current credentials; the error says what is wrong and what to fix, and
    /// never holds a secret.
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Auth, String>> + Send + '_>>;
}

/// The least time between two reads of an [`AuthSource`] after a 401 or 403, so that a cluster
/// refusing every request does not turn each one into a `GetSecretValue`.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The credentials in use and where newer ones come from.
struct Refresh {
    source: Arc<dyn AuthSource>,
    /// The credentials the transport was built with.
    current: Mutex<Auth>,
    /// When the source was last read after a refusal.
    last: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Refresh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Refresh({:?})", self.source)
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
    /// Replaced when refreshed credentials differ from those it was built with.
    transport: Arc<RwLock<Transport>>,
    endpoint: String,
    refresh: Option<Arc<Refresh>>,
}

/// The longest one request may take when the caller gives no deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

impl OpenSearchIndex {
    /// A client for the cluster at `endpoint` (`https://host[:port][/path]`).
    pub fn new(endpoint: &str, auth: Auth) -> Result<OpenSearchIndex, ClientError> {
        Ok(OpenSearchIndex {
            transport: Arc::new(RwLock::new(transport(endpoint, auth)?)),
            endpoint: endpoint.trim_end_matches('/').to_string(),
            refresh: None,
        })
    }

    /// A client whose credentials come from `source`: read now (an error here is the cold
    /// start's), and read again, at most every [`REFRESH_INTERVAL`], when the cluster answers
    /// 401 or 403 (not a `cluster_block_exception`); when they changed (the secret was
    /// rotated), the request is sent once more with them.
    pub async fn with_auth_source(
        endpoint: &str,
        source: Arc<dyn AuthSource>,
    ) -> Result<OpenSearchIndex, ConfigError> {
        let auth = source.fetch().await.map_err(ConfigError::Secret)?;
        let client = OpenSearchIndex::new(endpoint, auth.clone())?;
        Ok(OpenSearchIndex {
            refresh: Some(Arc::new(Refresh {
                source,
                current: Mutex::new(auth),
                last: Mutex::new(None),
            })),
            ..client
        })
    }

    /// After a 401 or 403: reads the source again (unless it was read less than
    /// [`REFRESH_INTERVAL`] ago) and, when the credentials changed, rebuilds the transport.
    /// Returns whether the request should be sent again.
    async fn refreshed(&self) -> bool {
        let Some(r) = &self.refresh else {
            return false;
        };
        {
            let Ok(mut last) = r.last.lock() else {
                return false;
            };
            if last.is_some_and(|t| t.elapsed() < REFRESH_INTERVAL) {
                return false;
            }
            *last = Some(Instant::now());
        }
        let auth = match r.source.fetch().await {
            Ok(a) => a,
            Err(error) => {
                tracing::warn!(event = "IndexCredentialsNotRead", %error);
                return false;
            }
        };
        let same = r.current.lock().map(|c| c.same_as(&auth)).unwrap_or(true);
        if same {
            tracing::warn!(
                event = "IndexCredentialsRefused",
                message =
                    "the cluster refused the credentials, and the secret still holds the same ones"
            );
            return false;
        }
        match transport(&self.endpoint, auth.clone()) {
            Ok(t) => {
                if let (Ok(mut slot), Ok(mut current)) = (self.transport.write(), r.current.lock())
                {
                    *slot = t;
                    *current = auth;
                }
                tracing::info!(event = "IndexCredentialsRefreshed", source = ?r.source);
                true
            }
            Err(error) => {
                tracing::warn!(event = "IndexCredentialsNotRead", %error);
                false
            }
        }
    }
}

/// The HTTP transport for `endpoint` with `auth`.
fn transport(endpoint: &str, auth: Auth) -> Result<Transport, ClientError> {
    // reqwest is built with rustls but no crypto provider (see the workspace manifest): use
    // ring, the provider of the AWS SDK's client. Installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut base = endpoint.trim_end_matches('/').to_string();
    base.push('/');
    let url = Url::parse(&base).map_err(|e| ClientError::InvalidEndpoint {
        endpoint: endpoint.to_string(),
        reason: e.to_string(),
    })?;
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
                .map_err(|_| ClientError::InvalidApiKey)?;
            value.set_sensitive(true);
            builder.header(opensearch::http::headers::AUTHORIZATION, value)
        }
        Auth::None => builder,
    };
    builder.build().map_err(|error| ClientError::Transport {
        endpoint: endpoint.to_string(),
        error,
    })
}

impl OpenSearchIndex {
    /// A client for `config` (its endpoint and auth), with SigV4 credentials from `sdk`.
    pub fn from_config(
        config: &IndexConfig,
        sdk: Option<&aws_config::SdkConfig>,
        fallback_region: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<OpenSearchIndex, ConfigError> {
        let endpoint = config.endpoint.as_deref().ok_or(ConfigError::NoEndpoint)?;
        let auth = Auth::resolve(config.auth, endpoint, sdk, fallback_region, env)?;
        Ok(OpenSearchIndex::new(endpoint, auth)?)
    }

    /// The endpoint, without a trailing `/`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one request and reads the answer (any status), within `deadline`. With an
    /// [`AuthSource`], a 401 or 403 (other than a `cluster_block_exception`) reads the
    /// credentials again, and the request is sent once more when they changed.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        deadline: Option<Instant>,
    ) -> Result<Reply, SendError> {
        let again = self
            .refresh
            .as_ref()
            .map(|_| (headers.clone(), body.clone()));
        let reply = self
            .send_once(method, path, headers, body, deadline)
            .await?;
        if matches!(reply.status, 401 | 403)
            && !String::from_utf8_lossy(&reply.body).contains("cluster_block_exception")
            && let Some((headers, body)) = again
            && self.refreshed().await
        {
            return self.send_once(method, path, headers, body, deadline).await;
        }
        Ok(reply)
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        deadline: Option<Instant>,
    ) -> Result<Reply, SendError> {
        let timeout = match deadline {
            Some(d) => time_left(d),
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
        let transport = match self.transport.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        let sent = transport.send(
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
        // No deadline: the request's own, REQUEST_TIMEOUT.
        let reply = self.request(method, path, headers, body, None).await?;
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
        assert_eq!(
            e.to_string(),
            "`auth = \"basic\"` needs CWLOGS_INDEX_USERNAME"
        );
        let e = Auth::resolve(IndexAuth::SigV4, "http://x", None, "r", &env).expect_err("no sdk");
        assert!(matches!(e, ConfigError::NoCredentials), "{e}");
        assert!(e.to_string().contains("credentials"), "{e}");
        let env = |k: &str| (k == "CWLOGS_INDEX_API_KEY").then(|| "abc".to_string());
        let a = Auth::resolve(IndexAuth::ApiKey, "http://x", None, "r", &env).expect("key");
        assert_eq!(format!("{a:?}"), "ApiKey");
    }

    #[test]
    fn client_errors_name_what_is_wrong() {
        let e = OpenSearchIndex::new("not a url", Auth::None).expect_err("no scheme");
        assert!(matches!(e, ClientError::InvalidEndpoint { .. }), "{e}");
        assert!(
            e.to_string().starts_with("index endpoint `not a url`: "),
            "{e}"
        );
        let e = OpenSearchIndex::new("http://x", Auth::ApiKey("a\nb".into())).expect_err("newline");
        assert!(matches!(e, ClientError::InvalidApiKey), "{e}");
        let env = |k: &str| (k == "AWS_REGION").then(|| "eu-west-1".to_string());
        let config = cwlogs_pipeline::Config::from_toml("[index]\n", &env).expect("config");
        let index = config.index.as_ref().expect("[index]");
        let e = OpenSearchIndex::from_config(index, None, "r", &env).expect_err("no endpoint");
        assert!(matches!(e, ConfigError::NoEndpoint), "{e}");
        assert!(OpenSearchIndex::new("http://127.0.0.1:9200/", Auth::None).is_ok());
    }
}
