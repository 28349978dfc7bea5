"""The openstack CLI plugin (osc-lib): openstack accelerator ...."""
