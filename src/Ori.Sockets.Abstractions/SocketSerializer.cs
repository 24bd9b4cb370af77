using System.Buffers;
using System.Diagnostics.CodeAnalysis;
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

    /// <summary>
    /// Reads and validates one whole JSON document (an HTTP body, a stored payload): malformed JSON,
    /// trailing content and every validation failure are reported, with paths from <paramref name="root"/>.
    /// </summary>
    /// <param name="utf8Json">The document, UTF-8 encoded.</param>
    /// <param name="value">The value when the document is valid.</param>
    /// <param name="errors">The failures; empty when the document is valid.</param>
    /// <param name="root">The path of the document's root in error paths.</param>
    /// <param name="maxDepth">The deepest nesting accepted.</param>
    /// <returns>Whether the document is valid.</returns>
    public bool TryDeserialize(ReadOnlySpan<byte> utf8Json, [MaybeNullWhen(false)] out T value, out IReadOnlyList<SocketValidationError> errors, string root = "$", int maxDepth = 32)
    {
        var validation = new SocketValidationContext(root);
        value = default;
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = maxDepth });
            if (!reader.Read())
            {
                validation.AddError("Must be a JSON document.");
            }
            else
            {
                var read = Read(ref reader, validation);
                if (!validation.HasErrors && read is null)
                {
                    validation.AddError("Must not be null.");
                }

                if (!validation.HasErrors && reader.Read())
                {
                    validation.AddError("Must be one JSON value with nothing after it.");
                }

                value = validation.HasErrors ? default : read;
            }
        }
        catch (JsonException)
        {
            validation.AddError("Must be well-formed JSON.");
        }

        errors = validation.Errors;
        return !validation.HasErrors && value is not null;
    }

    /// <summary>Writes <paramref name="value"/> as a UTF-8 JSON document.</summary>
    /// <param name="value">The value to write.</param>
    /// <returns>The document.</returns>
    public byte[] SerializeToUtf8Bytes(T value)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, value);
        }

        return buffer.WrittenSpan.ToArray();
    }
}
