"""The SpiffWorkflow wrapper: parse and check BPMN, run a workflow in the sandbox, store and restore it.

The only package of ours that imports SpiffWorkflow; everything above it speaks in our own terms.
"""
