"""Map files other robotics tools read: ROS map_server occupancy maps (``.pgm`` + ``.yaml``) and PLY
point clouds (RViz, Open3D, MeshLab, CloudCompare).

``write_map_server(memory, "out/map.yaml")`` writes ``map.pgm`` beside ``map.yaml`` in the format of
``nav2_map_server`` / ROS 1 ``map_server`` (``mode: trinary``): free cells 254, blocked 0, unknown
205; the image's first row is the map's top (largest y); ``origin`` is the world pose (m, map
frame) of the lower-left pixel's corner, ``resolution`` the cell size in metres per pixel. Units
are the memory's map units (metres for robots and indoor3d). Only the bounding box of known cells
is written; a box over 50 million cells is refused with a ``ValueError`` (one glitch far away
would otherwise make a huge image). ``write_ply(points, path)`` writes an ASCII or binary PLY with
optional 0-255 colours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_map_server", "read_map_server", "write_ply", "MAX_CELLS"]

FREE, OCCUPIED, UNKNOWN = 254, 0, 205
MAX_CELLS = 50_000_000


def write_map_server(memory: Any, yaml_path: str | Path) -> tuple[Path, Path]:
    """Write ``<stem>.pgm`` and ``yaml_path`` from ``memory.spatial``'s occupancy; returns (pgm, yaml)."""
    import yaml

    yaml_path = Path(yaml_path)
    if yaml_path.suffix.lower() not in (".yaml", ".yml"):
        raise ValueError(f"map_server maps are a .yaml file (with a .pgm beside it), got {yaml_path}")
    sp = memory.spatial
    cs = float(sp.config.cell_size)
    cells = sp.stats().get("known_cells", 0)
    if not cells:
        raise ValueError("the memory knows no free or blocked cell: there is no occupancy map to write")
    grid, (ix0, iy0) = sp.occupancy_grid()
    if grid.size > MAX_CELLS:
        raise ValueError(f"the known cells span {grid.shape[1]} x {grid.shape[0]} cells (> {MAX_CELLS:,}): "
                         "refusing a map image that large")
    img = np.full(grid.shape, UNKNOWN, np.uint8)
    img[grid == 1] = FREE
    img[grid == 2] = OCCUPIED
    img = img[::-1]  # PGM rows run top to bottom; grid rows run with y upwards
    pgm = yaml_path.with_suffix(".pgm")
    yaml_path.parent.mkdir(parents=True, exist_ok=True)
    with open(pgm, "wb") as f:
        f.write(f"P5\n# embodied_mem occupancy, {cs} m/cell\n{img.shape[1]} {img.shape[0]}\n255\n".encode())
        f.write(img.tobytes())
    meta = {"image": pgm.name, "mode": "trinary", "resolution": cs,
            # cell centres lie on multiples of cs: the lower-left pixel's corner is half a cell lower-left
            "origin": [(ix0 - 0.5) * cs, (iy0 - 0.5) * cs, 0.0],
            "negate": 0, "occupied_thresh": 0.65, "free_thresh": 0.25}
    yaml_path.write_text(yaml.safe_dump(meta, sort_keys=False))
    return pgm, yaml_path


def read_map_server(yaml_path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """(image rows top to bottom, metadata) of a map_server map: what ROS tools will load."""
    import yaml

    yaml_path = Path(yaml_path)
    meta = yaml.safe_load(yaml_path.read_text())
    data = (yaml_path.parent / meta["image"]).read_bytes()
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:  # magic, width, height, maxval; '#' comments skipped
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P5":
        raise ValueError(f"{meta['image']} is not a binary PGM")
    w, h = int(fields[1]), int(fields[2])
    img = np.frombuffer(data[pos + 1:pos + 1 + w * h], np.uint8).reshape(h, w)
    return img, meta


def write_ply(points: Any, path: str | Path, colors: Any = None, *, binary: bool = True) -> Path:
    """Write an N x 3 point cloud (metres) with optional N x 3 colours (0-255 or 0-1 floats) as PLY."""
    p = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    if not np.isfinite(p).all():
        raise ValueError("points must be finite")
    c = None
    if colors is not None:
        c = np.asarray(colors, dtype=np.float64).reshape(-1, 3)
        if len(c) != len(p):
            raise ValueError(f"{len(c)} colours for {len(p)} points")
        c = np.clip(np.round(c * 255 if c.size and c.max() <= 1.0 else c), 0, 255).astype(np.uint8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    props = ["property float x", "property float y", "property float z"]
    if c is not None:
        props += ["property uchar red", "property uchar green", "property uchar blue"]
    fmt = "binary_little_endian" if binary else "ascii"
    header = "\n".join(["ply", f"format {fmt} 1.0", "comment embodied_mem map, metres", f"element vertex {len(p)}",
                        *props, "end_header"]) + "\n"
    with open(path, "wb") as f:
        f.write(header.encode())
        if binary:
            if c is None:
                f.write(p.astype("<f4").tobytes())
            else:
                rec = np.empty(len(p), dtype=[("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("r", "u1"), ("g", "u1"),
                                              ("b", "u1")])
                rec["x"], rec["y"], rec["z"] = p[:, 0], p[:, 1], p[:, 2]
                rec["r"], rec["g"], rec["b"] = c[:, 0], c[:, 1], c[:, 2]
                f.write(rec.tobytes())
        else:
            for i, q in enumerate(p):
                row = f"{q[0]:.6g} {q[1]:.6g} {q[2]:.6g}"
                if c is not None:
                    row += f" {c[i, 0]} {c[i, 1]} {c[i, 2]}"
                f.write((row + "\n").encode())
    return path
