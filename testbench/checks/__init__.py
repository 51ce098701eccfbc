"""GPU checks. Each takes a CheckContext (the device, a progress callback, a cancel flag) and parameters, and
returns a CheckResult (status, summary, metrics, evidence). They never know whether the device is real."""
