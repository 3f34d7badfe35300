from shakeout.report.result import SCHEMA_VERSION, Finding, Manifest, Result, fingerprint

__all__ = ["SCHEMA_VERSION", "Finding", "Manifest", "Result", "fingerprint"]
