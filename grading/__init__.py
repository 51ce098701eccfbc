"""Grading: test results and the intake inspection turned into a grade with reasons, and (next) the certificate."""
