"""Predictions: jobs that run an engine over a tenant's inputs (docs/predictions.md).

store     the ``predictions`` table: the durable record of every job
inputs    what a request may name as input, checked at submit; fetched by the worker
engines   which engine serves which domain
runner    one job: claim, fetch inputs, run the engine, record the outcome once
queue     Dramatiq: the in-memory broker (embedded) or Redis (scale), and the actor
callbacks the callback_url: checked at submit, the tenant's secret, one signed POST
callback_queue  callback deliveries: a broker and worker of their own, retried by message
schemas   domains, hub and schema answers (vlmrun-hub, offline)
routes    the HTTP API
"""
