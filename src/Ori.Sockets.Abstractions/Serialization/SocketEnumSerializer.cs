using System.ComponentModel;
using System.Text.Json;

namespace Ori.Sockets.Serialization;

/// <summary>
/// An enum as a JSON string, from name/value pairs the generator lists (no reflection).
/// Names match exactly; any other string or a number is a validation failure.
/// </summary>
/// <typeparam name="TEnum">The enum type.</typeparam>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public sealed class SocketEnumSerializer<TEnum> : SocketSerializer<TEnum> where TEnum : struct, Enum
{
    private readonly Dictionary<string, TEnum> _byName;
    private readonly Dictionary<TEnum, JsonEncodedText> _byValue;
    private readonly string _expected;

    /// <summary>Creates the serializer.</summary>
    /// <param name="names">The JSON names, in the order of <paramref name="values"/>.</param>
    /// <param name="values">The enum values.</param>
    public SocketEnumSerializer(string[] names, TEnum[] values)
    {
        ArgumentNullException.ThrowIfNull(names);
        ArgumentNullException.ThrowIfNull(values);
        _byName = new Dictionary<string, TEnum>(names.Length, StringComparer.Ordinal);
        _byValue = new Dictionary<TEnum, JsonEncodedText>(names.Length);
        for (var i = 0; i < names.Length; i++)
        {
            _byName[names[i]] = values[i];
            _byValue.TryAdd(values[i], JsonEncodedText.Encode(names[i]));
        }

        _expected = "one of " + string.Join(", ", names.Select(n => $"'{n}'"));
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, TEnum value)
    {
        ArgumentNullException.ThrowIfNull(writer);
        if (!_byValue.TryGetValue(value, out var name))
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, $"{typeof(TEnum).Name} has no member with this value.");
        }

        writer.WriteStringValue(name);
    }

    /// <inheritdoc />
    public override TEnum Read(ref Utf8JsonReader reader, SocketValidationContext validation)
    {
        if (reader.TokenType == JsonTokenType.String && _byName.TryGetValue(reader.GetString()!, out var value))
        {
            return value;
        }

        SocketSerializers.Mismatch(ref reader, validation, _expected);
        return default;
    }

    /// <inheritdoc />
    public override void Validate(TEnum value, SocketValidationContext validation)
    {
        ArgumentNullException.ThrowIfNull(validation);
        if (!_byValue.ContainsKey(value))
        {
            validation.AddError($"Must be {_expected}.");
        }
    }
}
