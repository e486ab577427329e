package org.tessera.engine.graph;

/**
 * What an op's shape and dtype rule ({@link Op#infer}) gives for its operands.
 *
 * @param shape the output's shape
 * @param dtype the output's dtype
 */
public record OutputType(int[] shape, org.tessera.engine.tensor.DType dtype) {}
