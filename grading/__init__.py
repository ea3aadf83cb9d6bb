"""Instructor tooling: nbgrader release and sandboxed, parallel autograding.

    python -m grading release [ASSIGNMENT...]
    python -m grading run ASSIGNMENT --submissions PATH --out DIR [--workers N]

See grading/README.md for the sandbox and the CSV contract.
"""
