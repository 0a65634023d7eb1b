"""Tests of ue_backup.operators, one file per service."""
