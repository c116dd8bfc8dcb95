//! A resource made of one closure, for small resources and tests.

use std::future::Future;

use crate::request::Request;
use crate::resource::{CustomResource, Outcome, ResourceError};

/// A [`CustomResource`] made of one closure that receives every request (dispatch on
/// [`Request::request_type`]). The closure gets an owned clone of the request, so its
/// future can be `'static`.
pub struct FnResource<F>(F);

/// Wraps a closure `Fn(Request) -> impl Future<Output = Result<Outcome, ResourceError>>`.
pub fn resource_fn<F, Fut>(f: F) -> FnResource<F>
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Outcome, ResourceError>> + Send,
{
    FnResource(f)
}

impl<F, Fut> CustomResource for FnResource<F>
where
    F: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Outcome, ResourceError>> + Send,
{
    fn create(&self, req: &Request) -> impl Future<Output = Result<Outcome, ResourceError>> + Send {
        (self.0)(req.clone())
    }

    fn update(&self, req: &Request) -> impl Future<Output = Result<Outcome, ResourceError>> + Send {
        (self.0)(req.clone())
    }

    fn delete(&self, req: &Request) -> impl Future<Output = Result<Outcome, ResourceError>> + Send {
        (self.0)(req.clone())
    }
}
