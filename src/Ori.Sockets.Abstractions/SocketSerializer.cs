using System.Text.Json;

namespace Ori.Sockets;

/// <summary>
/// Writes and reads one type as JSON with <see cref="Utf8JsonWriter"/> and
/// <see cref="Utf8JsonReader"/>, validating while it reads. Implementations are emitted by the
/// source generator; they hold no state and are safe to share between threads.
/// </summary>
/// <typeparam name="T">The serialized type.</typeparam>
public abstract class SocketSerializer<T>
{
    /// <summary>Writes <paramref name="value"/> as one JSON value.</summary>
    /// <param name="writer">The writer, positioned where a value may be written.</param>
    /// <param name="value">The value to write.</param>
    public abstract void Write(Utf8JsonWriter writer, T value);

    /// <summary>
    /// Reads one JSON value and validates it. Every problem is added to
    /// <paramref name="validation"/> with its JSON path; reading goes on past a failed member so
    /// that one reply can report all of them.
    /// </summary>
    /// <param name="reader">The reader, positioned on the value's first token.</param>
    /// <param name="validation">Collects the failures, relative to its current path.</param>
    /// <returns>The value, or <see langword="default"/> when <paramref name="validation"/> has errors.</returns>
    public abstract T? Read(ref Utf8JsonReader reader, SocketValidationContext validation);

    /// <summary>
    /// Validates a value built in code (for example before it is emitted), adding every failure
    /// to <paramref name="validation"/>. The default implementation accepts every value.
    /// </summary>
    /// <param name="value">The value to check.</param>
    /// <param name="validation">Collects the failures.</param>
    public virtual void Validate(T value, SocketValidationContext validation)
    {
    }
}
