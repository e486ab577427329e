package org.tessera.engine.diffusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ScheduleTest {
    private static void assertMentions(Exception e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "message '" + e.getMessage() + "' lacks '" + part + "'");
        }
    }

    @Test
    void linearEndpointsAndScaling() {
        NoiseSchedule s = Schedules.linear(1000);
        assertEquals(1000, s.steps());
        assertEquals(1e-4, s.beta(0), 0);
        assertEquals(0.02, s.beta(999), 0);
        NoiseSchedule short250 = Schedules.linear(250);
        assertEquals(4e-4, short250.beta(0), 1e-18);
        assertEquals(0.08, short250.beta(249), 1e-17);
        assertEquals(0.5, Schedules.linear(1, 0.5, 0.9).beta(0), 0);
    }

    @Test
    void otherSchedules() {
        NoiseSchedule scaled = Schedules.scaledLinear(1000, 0.00085, 0.012);
        assertEquals(0.00085, scaled.beta(0), 1e-15);
        assertEquals(0.012, scaled.beta(999), 1e-15);
        double mid = Math.sqrt(0.00085) + 500 * (Math.sqrt(0.012) - Math.sqrt(0.00085)) / 999;
        assertEquals(mid * mid, scaled.beta(500), 1e-15);
        NoiseSchedule sqrt = Schedules.sqrtLinear(10, 1e-4, 0.01);
        assertEquals(0.01, sqrt.beta(0), 1e-15);
        assertEquals(0.1, sqrt.beta(9), 1e-15);
        NoiseSchedule cosine = Schedules.cosine(1000);
        assertEquals(Schedules.COSINE_MAX_BETA, cosine.beta(999), 0);
        for (int t = 1; t < 1000; t++) {
            assertTrue(cosine.beta(t) >= cosine.beta(t - 1), "cosine β increases");
        }
        NoiseSchedule cos7 = Schedules.cosine(7);
        assertEquals(7, cos7.steps());
        NoiseSchedule explicit = Schedules.explicit(0.1, 0.2, 1.0);
        assertEquals(0.9 * 0.8, explicit.alphaBar(1), 1e-15);
        assertEquals(0.0, explicit.alphaBar(2), 0);
    }

    @Test
    void derivedArraysObeyTheirFormulas() {
        NoiseSchedule s = Schedules.cosine(100);
        for (int t = 0; t < 100; t++) {
            double abar = s.alphaBar(t);
            double prev = t == 0 ? 1 : s.alphaBar(t - 1);
            assertEquals(prev, s.alphaBarPrev(t), 0);
            assertEquals(s.beta(t) * (1 - prev) / (1 - abar), s.posteriorVariance(t), 1e-15);
            // β̃_t = 1 / (1/(1−ᾱ_{t−1}) + α_t/β_t): the precision of the posterior is the sum of precisions.
            if (t > 0) {
                double precision = 1 / (1 - prev) + (1 - s.beta(t)) / s.beta(t);
                assertEquals(1 / precision, s.posteriorVariance(t), 1e-12 * s.posteriorVariance(t));
            }
            // Posterior mean reproduces x_0 exactly when x_t is its noiseless image: c1 + c2 √ᾱ_t = √ᾱ_{t−1}.
            assertEquals(Math.sqrt(prev), s.posteriorMeanCoef1(t) + s.posteriorMeanCoef2(t) * Math.sqrt(abar), 1e-12);
        }
        assertEquals(0.0, s.posteriorVariance(0), 0);
        assertEquals(Math.log(s.posteriorVariance(1)), s.posteriorLogVarianceClipped(0), 0);
    }

    @Test
    void respacedProcessKeepsAlphaBarAndOriginalTimesteps() {
        NoiseSchedule base = Schedules.linear(1000);
        for (String spec : new String[] {"ddim50", "10,15,20", "250", "1000", "ddim1000"}) {
            NoiseSchedule spaced = Respacing.respace(base, spec);
            int[] kept = spaced.timestepMap();
            for (int i = 0; i < kept.length; i++) {
                assertEquals(base.alphaBar(kept[i]), spaced.alphaBar(i), 1e-13 * base.alphaBar(kept[i]), spec);
                assertEquals(kept[i], spaced.modelTimestep(i));
            }
        }
        NoiseSchedule ddim50 = Respacing.respace(base, "ddim50");
        assertEquals(50, ddim50.steps());
        assertEquals(980, ddim50.modelTimestep(49));
        // Respacing a respaced process maps through to the original timesteps.
        NoiseSchedule twice = Respacing.respace(ddim50, new int[] {0, 49});
        assertArrayEquals(new int[] {0, 980}, twice.timestepMap());
    }

    @Test
    void spaceTimestepsFollowsDit() {
        int[] even = Respacing.spaceTimesteps(1000, "ddim50");
        assertEquals(50, even.length);
        assertEquals(20, even[1]);
        int[] sections = Respacing.spaceTimesteps(300, "10,15,20");
        assertEquals(45, sections.length);
        for (int i = 0; i < 10; i++) {
            assertEquals(11 * i, sections[i]); // 99/9 = 11
        }
        assertEquals(100, sections[10]);
        assertEquals(199, sections[24]);
        assertEquals(200, sections[25]);
        assertEquals(299, sections[44]);
        // A stride of 99/3 = 33: 0, 33, 66, 99.
        assertArrayEquals(new int[] {0, 33, 66, 99}, Respacing.spaceTimesteps(100, "4"));
        // Ten steps of 1000 via even sections: round(i·999/9), ties to even.
        assertArrayEquals(
                new int[] {0, 111, 222, 333, 444, 555, 666, 777, 888, 999}, Respacing.spaceTimesteps(1000, "10"));
    }

    @Test
    void timestepSpacings() {
        assertArrayEquals(
                new int[] {0, 111, 222, 333, 444, 555, 666, 777, 888, 999},
                TimestepSpacing.LINSPACE.select(1000, 10, 0));
        assertArrayEquals(
                new int[] {1, 101, 201, 301, 401, 501, 601, 701, 801, 901},
                TimestepSpacing.LEADING.select(1000, 10, 1));
        assertArrayEquals(
                new int[] {99, 199, 299, 399, 499, 599, 699, 799, 899, 999},
                TimestepSpacing.TRAILING.select(1000, 10, 0));
        assertArrayEquals(new int[] {332, 666, 999}, TimestepSpacing.TRAILING.select(1000, 3, 0));
        NoiseSchedule s = Respacing.respace(Schedules.linear(1000), TimestepSpacing.TRAILING.select(1000, 10, 0));
        assertEquals(999, s.modelTimestep(9));
    }

    @Test
    void zeroTerminalSnr() {
        NoiseSchedule base = Schedules.scaledLinear(1000, 0.00085, 0.012);
        NoiseSchedule z = Schedules.rescaleZeroTerminalSnr(base);
        assertEquals(0.0, z.alphaBar(999), 0);
        assertEquals(1.0, z.beta(999), 0);
        assertEquals(base.alphaBar(0), z.alphaBar(0), 1e-15);
        for (int t = 1; t < 1000; t++) {
            assertTrue(z.alphaBar(t) < z.alphaBar(t - 1));
        }
        // √ᾱ is an affine image of the original √ᾱ.
        double a0 = Math.sqrt(base.alphaBar(0));
        double aT = Math.sqrt(base.alphaBar(999));
        assertEquals((Math.sqrt(base.alphaBar(500)) - aT) * a0 / (a0 - aT), Math.sqrt(z.alphaBar(500)), 1e-12);
    }

    @Test
    void badInputIsNamed() {
        assertMentions(
                assertThrows(IllegalArgumentException.class, () -> Schedules.explicit(0.1, 1.5)),
                "betas[1]",
                "1.5",
                "(0, 1]");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> Schedules.explicit(0.0)), "betas[0]", "0.0");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> Schedules.explicit(Double.NaN)), "NaN");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> Schedules.linear(0)), "steps", "0");
        assertMentions(
                assertThrows(IllegalArgumentException.class, () -> Respacing.spaceTimesteps(100, "101")), "101", "100");
        assertMentions(
                assertThrows(IllegalArgumentException.class, () -> Respacing.spaceTimesteps(100, "ddim30")),
                "30",
                "100",
                "stride");
        assertMentions(
                assertThrows(IllegalArgumentException.class, () -> Respacing.spaceTimesteps(10, "3,3,5")),
                "section 2",
                "3 steps",
                "into 5");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> Respacing.spaceTimesteps(10, "a")), "\"a\"");
        assertMentions(
                assertThrows(
                        IllegalArgumentException.class,
                        () -> Respacing.respace(Schedules.linear(10, 1e-4, 0.02), new int[] {3, 10})),
                "10",
                "[0, 10)");
        assertMentions(assertThrows(IllegalArgumentException.class, () -> Schedules.linear(10)), "betas[5]", "(0, 1]");
        assertMentions(
                assertThrows(IllegalArgumentException.class, () -> TimestepSpacing.LEADING.select(10, 11, 0)),
                "11",
                "10");
        assertMentions(
                assertThrows(IllegalArgumentException.class, () -> TimestepSpacing.LEADING.select(10, 10, 1)),
                "offset 1");
    }
}
