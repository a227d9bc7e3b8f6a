"""``RobotBridge``: the lifecycle every robot bridge follows (LeRobot's ``Robot`` shape).

``connect()`` opens the link to the robot (a middleware session, a recording), ``disconnect()``
closes it, ``is_connected`` tells which; the bridge is a context manager. Using a bridge that is
not connected raises ``DeviceNotConnectedError``; connecting twice raises
``DeviceAlreadyConnectedError`` — both say what to do.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["RobotBridge", "DeviceNotConnectedError", "DeviceAlreadyConnectedError"]


class DeviceNotConnectedError(ConnectionError):
    """The bridge is used before ``connect()`` or after ``disconnect()``."""


class DeviceAlreadyConnectedError(ConnectionError):
    """``connect()`` on a bridge that is already connected."""


class RobotBridge(ABC):
    """Base class: subclasses implement ``_connect``, ``_disconnect``, ``get_observation``, ``send_action``."""

    name: str = "robot"

    def __init__(self) -> None:
        self._connected = False

    @property
    def is_connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        if self._connected:
            raise DeviceAlreadyConnectedError(f"{self.name} is already connected; call disconnect() first")
        self._connect()
        self._connected = True

    def disconnect(self) -> None:
        if not self._connected:
            raise DeviceNotConnectedError(f"{self.name} is not connected; nothing to disconnect")
        try:
            self._disconnect()
        finally:
            self._connected = False

    def require_connected(self, what: str = "this") -> None:
        if not self._connected:
            raise DeviceNotConnectedError(f"{self.name} is not connected: call connect() (or use `with`) before {what}")

    @abstractmethod
    def _connect(self) -> None: ...

    @abstractmethod
    def _disconnect(self) -> None: ...

    @abstractmethod
    def get_observation(self) -> dict[str, Any]:
        """The robot's latest state as the bridge knows it."""

    @abstractmethod
    def send_action(self, action: Any) -> Any:
        """Send ``action``; returns what was really sent."""

    def __enter__(self) -> RobotBridge:
        self.connect()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._connected:
            self.disconnect()
