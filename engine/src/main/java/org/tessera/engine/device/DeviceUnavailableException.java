package org.tessera.engine.device;

/** A device that was asked for by name (e.g. {@code --device cuda}) cannot start; the message says why. */
public final class DeviceUnavailableException extends RuntimeException {
    public DeviceUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
