"""One contract for every GpuDevice: the simulated board and the NVML implementation (over a fake NVML library
that answers with real NVML error codes) must look the same to the checks."""

import json

import pytest

from testbench.hardware.base import NOT_SUPPORTED, DeviceIdentity, DeviceLost, TelemetrySample, throttle_names
from testbench.hardware.nvml import NvmlDevice, discover_nvml_devices

from .fake_nvml import RTX_3080, RTX_A4000, FakeNvml, board

pytestmark = pytest.mark.database_independent


@pytest.fixture(params=["simulated", "nvml-geforce", "nvml-workstation"])
def any_device(request, make_device):
    if request.param == "simulated":
        return make_device()
    preset = RTX_3080 if request.param == "nvml-geforce" else RTX_A4000
    return NvmlDevice(index=0, cuda_index=None, nvml=FakeNvml([board(preset)]))


HEX4 = set("0123456789abcdef")


def test_identity_contract(any_device):
    device = any_device
    identity = device.identity()
    assert isinstance(identity, DeviceIdentity)
    assert identity.name.startswith("NVIDIA ") and identity.uuid.startswith("GPU-")
    assert len(identity.pci_vendor_id) == 4 and set(identity.pci_vendor_id) <= HEX4
    assert len(identity.pci_device_id) == 4 and set(identity.pci_device_id) <= HEX4
    assert len(identity.pci_subsystem_id) == 8
    assert identity.vram_total_bytes > 2**30 and identity.compute_capability == "8.6"
    json.dumps(identity.as_dict())


def test_telemetry_contract(any_device):
    device = any_device
    sample = device.telemetry()
    assert isinstance(sample, TelemetrySample)
    body = sample.as_dict()
    json.dumps(body)
    assert isinstance(body["gpu_temp_c"], int | float) and 0 < body["gpu_temp_c"] < 120
    assert isinstance(body["power_w"], int | float) and body["power_limit_w"] >= body["power_w"] * 0.5
    assert body["pcie_generation"] in (1, 2, 3, 4, 5) and body["pcie_width"] in (1, 2, 4, 8, 16)
    assert isinstance(body["throttle_reasons"], int)
    assert all(isinstance(f, int | float) for f in body["fan_speeds_pct"])
    # Counters a card does not expose are "not supported" (null), never a made-up zero or an exception.
    for key in ("ecc_corrected", "remapped_rows_pending", "retired_pages_sbe", "hotspot_temp_c"):
        assert body[key] is None or isinstance(body[key], int | float | bool)


def test_geforce_refusals_become_not_supported():
    device = NvmlDevice(index=0, cuda_index=None, nvml=FakeNvml([board(RTX_3080)]))
    identity, sample = device.identity(), device.telemetry()
    assert identity.serial is NOT_SUPPORTED and identity.board_part_number is NOT_SUPPORTED
    assert sample.ecc_corrected is NOT_SUPPORTED and sample.remapped_rows_pending is NOT_SUPPORTED
    assert sample.memory_temp_c is NOT_SUPPORTED
    assert (identity.pci_device_id, identity.pci_vendor_id, identity.pci_subsystem_id) == ("2206", "10de", "38901462")
    assert (identity.driver_version, identity.cuda_version) == ("560.35.03", "12.6")
    assert sample.power_w == 287.4 and sample.power_limit_w == 320.0
    assert throttle_names(sample.throttle_reasons) == ["sw_power_cap"]


def test_the_fan_tachometer_is_read_where_the_driver_exposes_it():
    assert NvmlDevice(index=0, cuda_index=None, nvml=FakeNvml([board(RTX_3080)])).telemetry().fan_rpm == 1480
    silent = FakeNvml([board({**RTX_3080, "fan_rpm": None})])
    assert NvmlDevice(index=0, cuda_index=None, nvml=silent).telemetry().fan_rpm is NOT_SUPPORTED


def test_workstation_card_reports_ecc_and_remapped_rows():
    sample = NvmlDevice(index=0, cuda_index=None, nvml=FakeNvml([board(RTX_A4000)])).telemetry()
    assert (sample.ecc_corrected, sample.ecc_uncorrected) == (2, 0)
    assert (sample.remapped_rows_correctable, sample.remapped_rows_pending) == (1, False)
    assert sample.retired_pages_sbe is NOT_SUPPORTED


def test_a_lost_gpu_is_a_domain_error_and_the_other_cards_carry_on():
    boards = [board(RTX_3080, 0), board(RTX_3080, 1)]
    fake = FakeNvml(boards)
    first, second = (NvmlDevice(index=i, cuda_index=None, nvml=fake) for i in range(2))
    boards[0].lose()
    with pytest.raises(DeviceLost, match="gpu0: device lost"):
        first.telemetry()
    assert second.telemetry().gpu_temp_c == 61


def test_simulated_device_that_falls_off_the_bus_stays_lost(make_device):
    device = make_device("fell_off_bus", seed=3)
    with pytest.raises(DeviceLost):
        for _ in range(1000):
            device.telemetry()
    with pytest.raises(DeviceLost):
        device.identity()


def test_discovery_matches_cuda_by_uuid_not_by_order():
    boards = [board(RTX_3080, 0), board(RTX_A4000, 1)]
    # CUDA_VISIBLE_DEVICES=1,0 reverses CUDA's numbering; a card hidden from CUDA has no CUDA index.
    devices = discover_nvml_devices(FakeNvml(boards), cuda_map={boards[1].uuid: 0, boards[0].uuid: 1})
    assert [(d.index, d.cuda_index) for d in devices] == [(0, 1), (1, 0)]
    devices = discover_nvml_devices(FakeNvml(boards), cuda_map={boards[1].uuid: 0})
    assert [d.cuda_index for d in devices] == [None, 0]


def test_discovery_without_a_driver_finds_nothing(monkeypatch):
    import testbench.hardware.nvml as nvml_module

    monkeypatch.setattr(nvml_module, "_init_count", 0)
    assert discover_nvml_devices(FakeNvml([board(RTX_3080)], driver_loaded=False), cuda_map={}) == []


def test_power_limit_reset_without_permission_says_so():
    device = NvmlDevice(index=0, cuda_index=None, nvml=FakeNvml([board(RTX_3080)]))
    assert device.reset_power_limit() is False


def test_clock_offsets_are_read_and_a_reset_without_root_says_so():
    device = NvmlDevice(index=0, cuda_index=None, nvml=FakeNvml([board(RTX_3080, offsets=(-200, 1100))]))
    assert device.clock_offsets() == {"core_mhz": -200, "memory_mhz": 1100}
    assert device.reset_clock_offsets() is False
    old = NvmlDevice(index=0, cuda_index=None, nvml=FakeNvml([board(RTX_3080, offsets=None)]))
    assert old.clock_offsets() == {"core_mhz": NOT_SUPPORTED, "memory_mhz": NOT_SUPPORTED}


def test_an_old_driver_still_reports_throttle_reasons():
    sample = NvmlDevice(index=0, cuda_index=None, nvml=FakeNvml([board(RTX_3080, old_driver=True)])).telemetry()
    assert throttle_names(sample.throttle_reasons) == ["sw_power_cap", "sw_thermal"]


def test_a_card_short_of_power_fails_alone():
    boards = [board(RTX_3080, 0, power_fault=True), board(RTX_3080, 1)]
    fake = FakeNvml(boards)
    with pytest.raises(DeviceLost, match="Insufficient External Power"):
        NvmlDevice(index=0, cuda_index=None, nvml=fake).telemetry()
    assert NvmlDevice(index=1, cuda_index=None, nvml=fake).telemetry().gpu_temp_c == 61


def test_nvml_refusing_our_arguments_is_an_error_of_ours_except_for_optional_reads():
    import pynvml

    from testbench.hardware.nvml import NvmlCallRefused

    fake = FakeNvml([board(RTX_3080, offsets=(-200, 1100))])

    def refuse(*args):
        raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)

    fake.nvmlDeviceGetClockInfo = refuse
    fake.nvmlDeviceGetGpcClkVfOffset = refuse
    device = NvmlDevice(index=0, cuda_index=None, nvml=fake)
    with pytest.raises(NvmlCallRefused, match="refused the arguments of refuse"):
        device.telemetry()  # the SM clock read: a wrong call of ours surfaces
    assert device.clock_offsets() == {"core_mhz": NOT_SUPPORTED, "memory_mhz": 1100}  # optional: not supported
