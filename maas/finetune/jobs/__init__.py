"""Tenant fine-tuning jobs ("enterprise models"): OpenAI-compatible `/v1/files` uploads and
`/v1/fine_tuning/jobs`, a queue in the database, a runner in the gateway that trains each job
in a subprocess (`python -m maas.finetune.jobs.train`, the gateway never imports torch), and
a private model registered for the tenant when the adapter beats its base on held-out data.

Modules: `files` (upload validation and storage), `plan` (hyperparameters, split, ids; pure),
`service` (jobs in the database: limits, credits, views), `runner` (claims and supervises
jobs), `train` (the subprocess), `protocol` (the lines the subprocess prints).
"""
