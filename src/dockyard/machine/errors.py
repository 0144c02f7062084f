"""Machine errors, in docker-machine's words where it has words."""


class MachineError(Exception):
    """A failed machine command; the message is what the user sees (after "Error ...")."""


class HostDoesNotExist(MachineError):
    def __init__(self, name: str) -> None:
        super().__init__(f'Docker machine "{name}" does not exist. Use "dockyard machine ls" to list machines. '
                         'Use "dockyard machine create" to add a new one.')
        self.name = name


class HostAlreadyExists(MachineError):
    def __init__(self, name: str) -> None:
        super().__init__(f'Docker machine "{name}" already exists')


class HostAlreadyInState(MachineError):
    def __init__(self, name: str, state: str) -> None:
        super().__init__(f'Machine "{name}" is already {state.lower()}.')


class HostNotRunning(MachineError):
    def __init__(self, name: str) -> None:
        super().__init__(f'Host "{name}" is not running')
        self.name = name
