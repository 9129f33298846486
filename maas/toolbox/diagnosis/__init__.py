"""Transformation diagnosis: a questionnaire kept as data, deterministic scoring, matched
support from the knowledge base, a model-written narrative with a built-in fallback, and
printable reports (HTML, DOCX).

The numbers always come from `scoring`; the model only adds language, so a weak or absent
model never changes a score, a level or a recommendation.
"""
