"""Tests of ue_backup.tasks, one file per module."""
