//! The reference, by topic: what a span gets and why, every setting, running in containers and
//! Kubernetes, what each part costs, and how the crate behaves under faults.
//!
//! These pages hold no code. The items they name carry their own docs: [`keys`](crate::keys)
//! lists every attribute, [`metrics`](crate::metrics) every metric with its Prometheus name,
//! [`snapshot`](crate::snapshot) every figure a pass reads, [`otlp`](crate::otlp) the
//! one-call pipeline and [`tower`](crate::tower) the request spans.

#[doc = include_str!("spans.md")]
pub mod spans {}

#[doc = include_str!("settings.md")]
pub mod settings {}

#[doc = include_str!("containers.md")]
pub mod containers {}

#[doc = include_str!("costs.md")]
pub mod costs {}

#[doc = include_str!("reliability.md")]
pub mod reliability {}
