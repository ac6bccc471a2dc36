"""The agent's Prometheus metrics, in a registry of its own (tests run several runtimes in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class AgentMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.frames = Counter("ssmd_agent_frames", "Frames evaluated", registry=r)
        self.unparsed = Counter("ssmd_agent_unparsed_frames", "Frames that were not JSON objects (acked, counted)",
                                registry=r)
        self.redelivered = Counter("ssmd_agent_redelivered_frames",
                                   "Redelivered frames already evaluated (acked, not evaluated twice)", registry=r)
        self.resyncs = Counter("ssmd_agent_resyncs", "Consumer re-created at the frame after the last one evaluated, "
                               "because a delivery was lost in transit (a NATS node died)", registry=r)
        self.fires = Counter("ssmd_agent_fires", "Fires published (JetStream-acked)", ["signal"], registry=r)
        self.signal_errors = Counter("ssmd_agent_signal_errors", "Exceptions raised by a signal's evaluate()",
                                     ["signal"], registry=r)
        self.publish_failures = Counter("ssmd_agent_fire_publish_failures",
                                        "Fire publishes that failed and were retried", registry=r)
        self.eval_seconds = Histogram(
            "ssmd_agent_eval_seconds", "State update + signal evaluation time per frame", registry=r,
            buckets=(1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2, 0.1),
        )
        self.lag_messages = Gauge("ssmd_agent_lag_messages", "Stream messages not yet delivered to the agent",
                                  registry=r)
        self.lag_seconds = Gauge("ssmd_agent_lag_seconds", "Wall-clock now minus the exchange time of the last frame",
                                 registry=r)
        self.signals = Gauge("ssmd_agent_signals", "Signals this runtime evaluates (0: none selected, idle)",
                             registry=r)
        self.last_seq = Gauge("ssmd_agent_last_stream_seq", "Stream sequence of the last evaluated frame", registry=r)
