package org.tessera.engine.graph;

import java.util.List;

/**
 * An op's gradient rule, the slot each op definition has for training: given a node and the
 * gradient of the loss with respect to its output, add the nodes that compute the gradients with
 * respect to its inputs. Training (issue 13) fills the slots.
 */
@FunctionalInterface
public interface Gradient {
    /**
     * @return the gradient for each input of {@code node}, in order; null for inputs without one
     *     (integer ids, constants that are not trained)
     */
    List<Value> backward(GraphBuilder graph, Node node, Value outputGradient);
}
