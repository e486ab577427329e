package org.tessera.engine.graph;

/**
 * A node failed while running (or while being folded at compile time), e.g. an embedding id
 * out of range. The message starts with the node's source location and op, e.g.
 * {@code dit.tess:40:9: embedding %12: embedding: id 1000 at position 1 is out of range …}.
 */
public final class GraphExecutionException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient Node node;

    GraphExecutionException(Node node, String context, Throwable cause) {
        super(node.label() + (context == null ? "" : " (" + context + ")") + ": " + cause.getMessage(), cause);
        this.node = node;
    }

    /** The node that failed. */
    public Node node() {
        return node;
    }
}
