"""Controllers that make stored objects behave: each plays one component of a real
cluster (kubelet, Deployment and Job controllers, PV binder, garbage collector, the
EC operator, Velero) and is reconciled by :class:`~.loop.ControllerLoop`."""
