"""What Velero does with the objects of a Backup or Restore: select, store, modify
and re-create them. The state machine around it is
:mod:`sandbox.k8s.controllers.velero`."""
