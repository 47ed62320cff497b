"""End-to-end experiments: one config -> extraction, probes, analysis and report."""
