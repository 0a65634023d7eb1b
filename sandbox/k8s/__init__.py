"""The Kubernetes half of the sandbox: an API server on loopback plus the controllers
that make its objects behave, for the tests and the demo. Start it through
:class:`sandbox.k8s.server.KubernetesSandbox`.

Layout, one job per module:

- ``server``: the facade (start/stop/reset, seeding, accessors); ``kubeconfig``.
- HTTP: ``api`` (auth, discovery, faults, dispatch), ``routing`` (paths),
  ``handlers`` (the verbs), ``watch``, ``discovery``, ``errors`` (Status objects).
- State: ``store`` (resourceVersion, uid, generation, status subresource, graceful
  deletion, finalizers, watch history), ``resources`` (the served types),
  ``defaults``, ``validation``, ``selectors``, ``patches``, ``timestamps``.
- ``controllers``: ``ecd`` (the EC operator), ``deployment``, ``job``, ``kubelet``
  (pod lifecycle; runs Job commands via ``runner`` with ``mounts``), ``volumes``
  (PV binding), ``gc``, ``velero``; ``loop`` runs them.
- ``velero``: backup selection, the backup store, resource modifiers, the restorer.

Where it is knowingly not a real cluster: namespaces always exist and are not
objects; ReplicaSets are not modelled (a Deployment owns its pods); there is no
server-side apply (415) and no protobuf; Deployment pods start after
``durations.ecd_start`` and drain for ``durations.ecd_drain`` whatever their grace
period; Job commands run on this machine with mount paths rewritten (see
``runner``), one pod at a time; dynamic volume provisioning is absent; an EFS access
point mounts its file system's root.
"""
