"""Jinja2 templates, installed as the package ``claims_templates`` so that the
reports find them wherever the project is installed (``reports/``: the HTML
reports for officials and finance)."""
