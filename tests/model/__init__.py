"""The model-based test of the money path (issue 12, item 11): a reference model of
CONTRACT.md's money semantics and a state machine that drives the real pipeline."""
