/** The {@code tessera} command. picocli reads the commands' annotated fields reflectively. */
module org.tessera.cli {
    requires org.tessera.runtime;
    requires org.tessera.ffi;
    requires info.picocli;
    requires jdk.unsupported; // sun.misc.Signal: train turns Ctrl-C into a checkpoint, not a shutdown

    opens org.tessera.cli to
            info.picocli;
}
