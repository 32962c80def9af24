//! The request's end: a cancelled request is marked, the metrics and the report read the
//! exchange, and an adopted span gets its handover. Runs once, when the state is dropped.

use super::RequestState;

impl Drop for RequestState {
    fn drop(&mut self) {
        if !self.finished {
            // Dropped before its response or body ended: the client went away, or a timeout
            // cancelled it. The span still ends now (its end time is its last exit: stamp
            // it), with its figures.
            drop(self.enter());
            self.record("resmon.cancelled", true);
            self.record("error.type", "cancelled");
            self.x.error = Some("cancelled");
        }
        let shared = &self.shared;
        let end = shared.sampler.latest();
        if let Some(m) = &shared.metrics {
            m.record(&self.x, &shared.sampler, &end);
        }
        if shared.report {
            // Opt-in and read by people: exact figures at this end (one pass of the
            // fast tier, never queued behind a slow driver read).
            let exact = shared.sampler.sample_now();
            crate::tower::report::print(&self.x, &exact, &shared.recent);
        }
        // Last: the handover takes the route, which the metrics and the report read.
        if let Some(adopted) = self.adopted.take() {
            let handover = adopted.handover(&mut self.x, self.finished);
            crate::layer::hand_over(&self.span, handover);
        }
    }
}
