"""cyborg-lite: an accelerator manager with Cyborg's v2 API and fleet-wide firmware rollout.

Importing the package makes oslo.service's threading backend the default (issue 18): every
service here runs on threads, and oslo.messaging imports oslo.service, whose default backend
is eventlet. A hook rather than ``init_backend``: it only sets the default, so a process that
chose a backend itself keeps its choice. eventlet stays installed (oslo.service requires it)
and futurist imports it whenever it is there, which warns that eventlet is deprecated: that
one warning is silenced, since nothing here runs on eventlet.
"""

import warnings

from oslo_service import backend as _service_backend

__version__ = "0.1.0"

_service_backend.register_backend_default_hook(lambda: _service_backend.BackendType.THREADING)
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
