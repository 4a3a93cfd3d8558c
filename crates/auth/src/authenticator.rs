use std::sync::Arc;

use basalt_core::caller::{Authenticate, Authenticator, BoxFuture};
use basalt_core::{Caller, Error, Result};

use crate::tokens::Verified;
use crate::{Auth, admins, service_keys};

impl Authenticate for Auth {
    fn authenticate<'a>(&'a self, bearer: &'a str) -> BoxFuture<'a, Result<Caller>> {
        Box::pin(async move {
            if bearer.starts_with(service_keys::PREFIX) {
                let identity = service_keys::verify(self.db(), &self.inner.key_uses, bearer).await?;
                return Ok(service_keys::identity(identity));
            }
            match self
                .inner
                .verified_tokens
                .verify(self.keys(), bearer, self.issuer())?
            {
                Verified::Admin(claims) => match admins::current(self.db(), &claims).await? {
                    Some(admin) => Ok(Caller::Admin(Arc::new(basalt_core::caller::AdminIdentity {
                        id: admin.id,
                        email: admin.email,
                        role: admin.role,
                        expires_at: claims.exp,
                    }))),
                    None => Err(Error::unauthenticated("token has been revoked")),
                },
                Verified::User(claims) => {
                    // A signed-out session or a disabled user ends the token too.
                    if !self
                        .inner
                        .active_sessions
                        .check(self, &claims.sid, &claims.sub)
                        .await?
                    {
                        return Err(Error::unauthenticated("this session has ended"));
                    }
                    Ok(Caller::User(Arc::new(claims.identity()?)))
                }
            }
        })
    }
}

/// The authenticator the server puts in its state.
pub fn authenticator(auth: Auth) -> Authenticator {
    Authenticator(Arc::new(auth))
}
