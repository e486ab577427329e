package org.tessera.runtime;

import java.util.List;

/**
 * What {@link Tessera#check} found: every message, and the text a compiler prints for them.
 *
 * @param messages each diagnostic, in the order found
 * @param rendered every message with its source line and a caret, sorted by file and position
 */
public record CheckReport(List<Message> messages, String rendered) {
    public CheckReport {
        messages = List.copyOf(messages);
    }

    /**
     * One diagnostic.
     *
     * @param error true for an error, false for a warning
     * @param file the script, as it was named
     * @param line 1-based
     * @param column 1-based
     * @param text the message without its location
     */
    public record Message(boolean error, String file, int line, int column, String text) {
        /** {@code file:line:col: error: text}. */
        @Override
        public String toString() {
            return file + ":" + line + ":" + column + ": " + (error ? "error" : "warning") + ": " + text;
        }
    }

    /** The number of errors. */
    public int errors() {
        return (int) messages.stream().filter(Message::error).count();
    }

    /** The number of warnings. */
    public int warnings() {
        return messages.size() - errors();
    }

    /** True when there is at least one error. */
    public boolean hasErrors() {
        return errors() > 0;
    }
}
