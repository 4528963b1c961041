"""The program inside every session (`ai-implement runner`): it runs the Dispatch's pipeline, drives the
coding agent, and calls the controller back."""
