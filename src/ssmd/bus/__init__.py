"""NATS and JetStream: the embedded server, subject mapping, stream management."""
