/** A small application that embeds Tessera through the public API alone. */
module org.tessera.samples {
    requires org.tessera.runtime;
}
