package org.tessera.engine.device;

import java.util.Arrays;
import java.util.Locale;

/** Reads an option value as one of an enum's constants, by its lower-case name. */
final class Labels {
    private Labels() {}

    /**
     * The constant of {@code type} named {@code text} (any case, surrounding blanks ignored).
     *
     * @throws IllegalArgumentException "{@code what} must be a, b or c, got 'x'"
     */
    static <E extends Enum<E>> E parse(Class<E> type, String text, String what) {
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(text.strip())) {
                return e;
            }
        }
        String[] names =
                Arrays.stream(type.getEnumConstants()).map(Labels::label).toArray(String[]::new);
        String list = String.join(", ", Arrays.copyOf(names, names.length - 1)) + " or " + names[names.length - 1];
        throw new IllegalArgumentException(what + " must be " + list + ", got '" + text + "'");
    }

    static String label(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }
}
