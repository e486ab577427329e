package org.tessera.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.function.Executable;
import org.tessera.engine.tensor.ShapeMismatchException;

/** Shared assertion for the engine's argument checks. */
public final class ShapeErrors {
    private ShapeErrors() {}

    /** Runs {@code body}, expecting a ShapeMismatchException whose message starts with {@code op:} and contains each fragment. */
    public static void assertShapeError(String op, Executable body, String... fragments) {
        try {
            body.execute();
        } catch (ShapeMismatchException e) {
            assertTrue(e.getMessage().startsWith(op + ":"), "message should name " + op + ": " + e.getMessage());
            for (String f : fragments) {
                assertTrue(e.getMessage().contains(f), "message should contain " + f + ": " + e.getMessage());
            }
            return;
        } catch (Throwable t) {
            fail("expected ShapeMismatchException from " + op + ", got " + t);
        }
        fail("expected ShapeMismatchException from " + op);
    }
}
