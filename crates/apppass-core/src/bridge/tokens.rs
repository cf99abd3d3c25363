//! Where the bridge gets its upstream access tokens: the profile's OAuth sign-in, asked for the
//! mail scopes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::{Code, Failure};
use crate::signin::SignIn;
use crate::Secret;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the bridge signs in upstream with: the mailbox's user name and a bearer token.
pub struct UpstreamToken {
    /// The `user=` of XOAUTH2 / `a=` of OAUTHBEARER.
    pub user: String,
    pub token: Secret,
}

pub trait TokenSource: Send + Sync + 'static {
    /// A valid access token; `fresh` forces a refresh (after the server refused the last one).
    /// `SignInRequired` when the sign-in is gone or the provider refused the refresh token.
    fn token(&self, fresh: bool) -> BoxFuture<'_, Result<UpstreamToken, Failure>>;
}

/// Tokens from the profile's sign-in, for the bridge's mail scopes.
pub struct SignInTokens {
    signin: Arc<SignIn>,
    scopes: Vec<String>,
}

impl SignInTokens {
    pub fn new(signin: Arc<SignIn>, scopes: Vec<String>) -> SignInTokens {
        SignInTokens { signin, scopes }
    }
}

impl TokenSource for SignInTokens {
    fn token(&self, fresh: bool) -> BoxFuture<'_, Result<UpstreamToken, Failure>> {
        Box::pin(async move {
            let account = self.signin.account()?.ok_or_else(|| {
                Failure::new(
                    Code::SignInRequired,
                    "Nobody is signed in, so the bridge cannot reach the mailbox. Sign in with `apppass login` (or Sign in in the app).",
                )
            })?;
            let access = if fresh {
                self.signin.refresh_for(&self.scopes).await?
            } else {
                self.signin.access_token_for(&self.scopes).await?
            };
            Ok(UpstreamToken {
                user: account.email.clone().unwrap_or(account.username.clone()),
                token: access.token,
            })
        })
    }
}
