"""Tests of the QIoT Enviro integration."""
