"""The fingerprint the stand-in recipes record for a state_dict (make_random_sam.py,
make_random_mobile_sam.py): state_dict_sha256 = sha256 over (name utf-8 bytes + raw little-endian
tensor bytes) in state_dict order, and one entry per tensor."""
import hashlib

NOTE = "state_dict_sha256 = sha256 over (name utf-8 bytes + raw little-endian tensor bytes) in state_dict order"


def digest(state_dict, statistics=False):
    """(state_dict_sha256, [{"name", "shape", "dtype", "sha256"} per tensor]); with `statistics`,
    each entry also has the tensor's mean and standard deviation."""
    whole = hashlib.sha256()
    tensors = []
    for name, value in state_dict.items():
        data = value.detach().contiguous().numpy().tobytes()
        whole.update(name.encode())
        whole.update(data)
        entry = {"name": name, "shape": list(value.shape), "dtype": str(value.dtype).replace("torch.", ""),
                 "sha256": hashlib.sha256(data).hexdigest()}
        if statistics:
            entry["mean"] = float(value.double().mean()) if value.numel() else 0.0
            entry["std"] = float(value.double().std()) if value.numel() > 1 else 0.0
        tensors.append(entry)
    return whole.hexdigest(), tensors
