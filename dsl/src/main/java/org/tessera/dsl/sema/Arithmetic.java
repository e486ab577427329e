package org.tessera.dsl.sema;

import java.util.ArrayList;
import java.util.List;

/** Compile-time arithmetic, comparison and list concatenation, Python-like. */
final class Arithmetic {
    private Arithmetic() {}

    static CompileValue apply(String op, CompileValue l, CompileValue r) {
        if (l instanceof CompileValue.IntV a && r instanceof CompileValue.IntV b) {
            return ints(op, a.value(), b.value());
        }
        if (isNumber(l) && isNumber(r)) {
            return floats(op, number(l, op), number(r, op));
        }
        if (op.equals("==") || op.equals("!=")) {
            boolean eq = l.equals(r);
            return new CompileValue.BoolV(op.equals("==") == eq);
        }
        if (op.equals("+") && l instanceof CompileValue.ListV a && r instanceof CompileValue.ListV b) {
            List<CompileValue> all = new ArrayList<>(a.items());
            all.addAll(b.items());
            return new CompileValue.ListV(all);
        }
        if (op.equals("+") && l instanceof CompileValue.StrV a && r instanceof CompileValue.StrV b) {
            return new CompileValue.StrV(a.value() + b.value());
        }
        throw new CompileError("operator '" + op + "' does not apply to " + l.describe() + " and " + r.describe());
    }

    private static CompileValue ints(String op, long a, long b) {
        return switch (op) {
            case "+" -> new CompileValue.IntV(Math.addExact(a, b));
            case "-" -> new CompileValue.IntV(Math.subtractExact(a, b));
            case "*" -> new CompileValue.IntV(Math.multiplyExact(a, b));
            case "/" -> {
                if (b == 0) {
                    throw new CompileError("division by zero");
                }
                yield new CompileValue.FloatV((double) a / b);
            }
            case "//" -> {
                if (b == 0) {
                    throw new CompileError("division by zero");
                }
                yield new CompileValue.IntV(Math.floorDiv(a, b));
            }
            case "%" -> {
                if (b == 0) {
                    throw new CompileError("modulo by zero");
                }
                yield new CompileValue.IntV(Math.floorMod(a, b));
            }
            case "**" -> b >= 0 ? new CompileValue.IntV(pow(a, b)) : new CompileValue.FloatV(Math.pow(a, b));
            default -> compare(op, Long.compare(a, b));
        };
    }

    private static long pow(long a, long b) {
        long r = 1;
        for (long i = 0; i < b; i++) {
            r = Math.multiplyExact(r, a);
        }
        return r;
    }

    private static CompileValue floats(String op, double a, double b) {
        return switch (op) {
            case "+" -> new CompileValue.FloatV(a + b);
            case "-" -> new CompileValue.FloatV(a - b);
            case "*" -> new CompileValue.FloatV(a * b);
            case "/" -> new CompileValue.FloatV(a / b);
            case "//" -> new CompileValue.FloatV(Math.floor(a / b));
            case "%" -> new CompileValue.FloatV(a - Math.floor(a / b) * b);
            case "**" -> new CompileValue.FloatV(Math.pow(a, b));
            default -> compare(op, Double.compare(a, b));
        };
    }

    private static CompileValue compare(String op, int c) {
        return new CompileValue.BoolV(
                switch (op) {
                    case "==" -> c == 0;
                    case "!=" -> c != 0;
                    case "<" -> c < 0;
                    case ">" -> c > 0;
                    case "<=" -> c <= 0;
                    case ">=" -> c >= 0;
                    default -> throw new CompileError("unknown operator '" + op + "'");
                });
    }

    static boolean isNumber(CompileValue v) {
        return v instanceof CompileValue.IntV || v instanceof CompileValue.FloatV;
    }

    static double number(CompileValue v, String op) {
        return switch (v) {
            case CompileValue.IntV i -> i.value();
            case CompileValue.FloatV f -> f.value();
            default -> throw new CompileError("operator '" + op + "' needs a number, got " + v.describe());
        };
    }
}
