"""Use cases: what a request or an RPC does beyond reading, one module per noun.

An API responder makes one call into a noun's use-case object (``rollouts.Rollouts``,
``firmware_images.FirmwareImages``, ``devices.Devices``, ``arqs.Arqs``), which begins and
commits its own transaction, then tells the conductor through the ``ports.Conductor`` Protocol,
never inside the transaction. Below those objects, plain functions take the caller's session:
the rules that a conductor endpoint or the rollout engine runs in its own transaction.
"""
