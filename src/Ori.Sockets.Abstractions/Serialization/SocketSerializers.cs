using System.ComponentModel;
using System.Globalization;
using System.Text.Json;

namespace Ori.Sockets.Serialization;

/// <summary>
/// Serializers of the built-in types and of collections and nullable forms, the building blocks of
/// generated serializers. Each reports a type mismatch as a validation failure at the current path
/// and skips the value, so one message can report every problem at once.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Advanced)]
[System.Diagnostics.CodeAnalysis.SuppressMessage("Naming", "CA1720", Justification = "Each property is named after the type it serializes, as System.Text.Json's metadata services are.")]
public static class SocketSerializers
{
    /// <summary><see cref="string"/>; JSON strings only.</summary>
    public static SocketSerializer<string> String { get; } = new StringSerializer();

    /// <summary><see cref="bool"/>; JSON <c>true</c> and <c>false</c> only.</summary>
    public static SocketSerializer<bool> Boolean { get; } = new BooleanSerializer();

    /// <summary><see cref="byte"/>.</summary>
    public static SocketSerializer<byte> Byte { get; } = new NumberSerializer<byte>("an integer from 0 to 255", static (ref Utf8JsonReader r, out byte v) => r.TryGetByte(out v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="sbyte"/>.</summary>
    public static SocketSerializer<sbyte> SByte { get; } = new NumberSerializer<sbyte>("an integer from -128 to 127", static (ref Utf8JsonReader r, out sbyte v) => r.TryGetSByte(out v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="short"/>.</summary>
    public static SocketSerializer<short> Int16 { get; } = new NumberSerializer<short>("an integer from -32768 to 32767", static (ref Utf8JsonReader r, out short v) => r.TryGetInt16(out v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="ushort"/>.</summary>
    public static SocketSerializer<ushort> UInt16 { get; } = new NumberSerializer<ushort>("an integer from 0 to 65535", static (ref Utf8JsonReader r, out ushort v) => r.TryGetUInt16(out v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="int"/>.</summary>
    public static SocketSerializer<int> Int32 { get; } = new NumberSerializer<int>("a 32-bit integer", static (ref Utf8JsonReader r, out int v) => r.TryGetInt32(out v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="uint"/>.</summary>
    public static SocketSerializer<uint> UInt32 { get; } = new NumberSerializer<uint>("an unsigned 32-bit integer", static (ref Utf8JsonReader r, out uint v) => r.TryGetUInt32(out v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="long"/>.</summary>
    public static SocketSerializer<long> Int64 { get; } = new NumberSerializer<long>("a 64-bit integer", static (ref Utf8JsonReader r, out long v) => r.TryGetInt64(out v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="ulong"/>.</summary>
    public static SocketSerializer<ulong> UInt64 { get; } = new NumberSerializer<ulong>("an unsigned 64-bit integer", static (ref Utf8JsonReader r, out ulong v) => r.TryGetUInt64(out v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="float"/>; finite values only.</summary>
    public static SocketSerializer<float> Single { get; } = new NumberSerializer<float>("a number", static (ref Utf8JsonReader r, out float v) => r.TryGetSingle(out v) && float.IsFinite(v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="double"/>; finite values only.</summary>
    public static SocketSerializer<double> Double { get; } = new NumberSerializer<double>("a number", static (ref Utf8JsonReader r, out double v) => r.TryGetDouble(out v) && double.IsFinite(v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="decimal"/>.</summary>
    public static SocketSerializer<decimal> Decimal { get; } = new NumberSerializer<decimal>("a decimal number", static (ref Utf8JsonReader r, out decimal v) => r.TryGetDecimal(out v), static (w, v) => w.WriteNumberValue(v));

    /// <summary><see cref="char"/>, as a string of one character.</summary>
    public static SocketSerializer<char> Char { get; } = new TextSerializer<char>("a string of one character", static (string s, out char v) =>
    {
        v = s.Length == 1 ? s[0] : default;
        return s.Length == 1;
    }, static v => v.ToString());

    /// <summary><see cref="System.Guid"/>, as a string.</summary>
    public static SocketSerializer<Guid> Guid { get; } = new TextSerializer<Guid>("a GUID such as 0f8fad5b-d9cb-469f-a165-70867728950e", static (string s, out Guid v) => System.Guid.TryParseExact(s, "D", out v), static v => v.ToString());

    /// <summary><see cref="System.DateTime"/>, as an ISO 8601 string.</summary>
    public static SocketSerializer<DateTime> DateTime { get; } = new DateTimeSerializer();

    /// <summary><see cref="System.DateTimeOffset"/>, as an ISO 8601 string.</summary>
    public static SocketSerializer<DateTimeOffset> DateTimeOffset { get; } = new DateTimeOffsetSerializer();

    /// <summary><see cref="System.TimeSpan"/>, as a string such as <c>01:30:00</c> or <c>1.02:03:04.5</c>.</summary>
    public static SocketSerializer<TimeSpan> TimeSpan { get; } = new TextSerializer<TimeSpan>("a time span such as 01:30:00", static (string s, out TimeSpan v) => System.TimeSpan.TryParseExact(s, "c", CultureInfo.InvariantCulture, out v), static v => v.ToString("c", CultureInfo.InvariantCulture));

    /// <summary><see cref="System.DateOnly"/>, as <c>yyyy-MM-dd</c>.</summary>
    public static SocketSerializer<DateOnly> DateOnly { get; } = new TextSerializer<DateOnly>("a date such as 2026-11-22", static (string s, out DateOnly v) => System.DateOnly.TryParseExact(s, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out v), static v => v.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));

    /// <summary><see cref="System.TimeOnly"/>, as <c>HH:mm:ss</c> with optional fractions.</summary>
    public static SocketSerializer<TimeOnly> TimeOnly { get; } = new TextSerializer<TimeOnly>("a time such as 13:45:00", static (string s, out TimeOnly v) => System.TimeOnly.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.None, out v), static v => v.ToString("HH:mm:ss.FFFFFFF", CultureInfo.InvariantCulture));

    /// <summary>A nullable value type: JSON <c>null</c> is <see langword="null"/>.</summary>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="inner">The serializer of <typeparamref name="T"/>.</param>
    /// <returns>The serializer.</returns>
    public static SocketSerializer<T?> Nullable<T>(SocketSerializer<T> inner) where T : struct => new NullableValueSerializer<T>(inner);

    /// <summary>A nullable reference type: JSON <c>null</c> is <see langword="null"/> instead of a failure.</summary>
    /// <typeparam name="T">The reference type.</typeparam>
    /// <param name="inner">The serializer of <typeparamref name="T"/>.</param>
    /// <returns>The serializer.</returns>
    public static SocketSerializer<T?> OrNull<T>(SocketSerializer<T> inner) where T : class => new NullableReferenceSerializer<T>(inner);

    /// <summary>A <see cref="List{T}"/> as a JSON array.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="element">The serializer of an element.</param>
    /// <returns>The serializer.</returns>
    public static SocketSerializer<List<T>> List<T>(SocketSerializer<T> element) => new ListSerializer<T>(element);

    /// <summary>An array as a JSON array.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="element">The serializer of an element.</param>
    /// <returns>The serializer.</returns>
    public static SocketSerializer<T[]> Array<T>(SocketSerializer<T> element) => new ArraySerializer<T>(element);

    /// <summary>A <see cref="Dictionary{TKey, TValue}"/> with string keys as a JSON object.</summary>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="value">The serializer of a value.</param>
    /// <returns>The serializer.</returns>
    public static SocketSerializer<Dictionary<string, T>> Dictionary<T>(SocketSerializer<T> value) => new DictionarySerializer<T>(value);

    /// <summary>A collection interface (<c>IReadOnlyList&lt;T&gt;</c>, <c>IEnumerable&lt;T&gt;</c>, ...) as a JSON array, read as a list.</summary>
    /// <typeparam name="TCollection">The declared collection type.</typeparam>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="element">The serializer of an element.</param>
    /// <param name="fromList">Turns the list read into the declared type.</param>
    /// <returns>The serializer.</returns>
    public static SocketSerializer<TCollection> Collection<TCollection, T>(SocketSerializer<T> element, Func<List<T>, TCollection> fromList)
        where TCollection : IEnumerable<T> => new CollectionSerializer<TCollection, T>(element, fromList);

    /// <summary>A string-keyed dictionary interface as a JSON object, read as a dictionary.</summary>
    /// <typeparam name="TDictionary">The declared dictionary type.</typeparam>
    /// <typeparam name="T">The value type.</typeparam>
    /// <param name="value">The serializer of a value.</param>
    /// <param name="fromDictionary">Turns the dictionary read into the declared type.</param>
    /// <returns>The serializer.</returns>
    public static SocketSerializer<TDictionary> Map<TDictionary, T>(SocketSerializer<T> value, Func<Dictionary<string, T>, TDictionary> fromDictionary)
        where TDictionary : IEnumerable<KeyValuePair<string, T>> => new MapSerializer<TDictionary, T>(value, fromDictionary);

    /// <summary>Records that the value at the current path is not of the expected kind, and skips it.</summary>
    /// <param name="reader">The reader, on the value's first token.</param>
    /// <param name="validation">The failures.</param>
    /// <param name="expected">What was expected, such as "a string".</param>
    public static void Mismatch(ref Utf8JsonReader reader, SocketValidationContext validation, string expected)
    {
        ArgumentNullException.ThrowIfNull(validation);
        validation.AddError(reader.TokenType == JsonTokenType.Null ? "Must not be null." : $"Must be {expected}.");
        reader.Skip();
    }

    private delegate bool TryRead<T>(ref Utf8JsonReader reader, out T value);

    private delegate bool TryParse<T>(string text, out T value);

    private sealed class StringSerializer : SocketSerializer<string>
    {
        public override void Write(Utf8JsonWriter writer, string value) => writer.WriteStringValue(value);

        public override string? Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            if (reader.TokenType != JsonTokenType.String)
            {
                Mismatch(ref reader, validation, "a string");
                return null;
            }

            return reader.GetString();
        }
    }

    private sealed class BooleanSerializer : SocketSerializer<bool>
    {
        public override void Write(Utf8JsonWriter writer, bool value) => writer.WriteBooleanValue(value);

        public override bool Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            if (reader.TokenType is JsonTokenType.True or JsonTokenType.False)
            {
                return reader.GetBoolean();
            }

            Mismatch(ref reader, validation, "true or false");
            return false;
        }
    }

    private sealed class NumberSerializer<T>(string description, TryRead<T> tryRead, Action<Utf8JsonWriter, T> write) : SocketSerializer<T>
    {
        public override void Write(Utf8JsonWriter writer, T value) => write(writer, value);

        public override T Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            if (reader.TokenType == JsonTokenType.Number && tryRead(ref reader, out var value))
            {
                return value;
            }

            Mismatch(ref reader, validation, description);
            return default!;
        }
    }

    private sealed class TextSerializer<T>(string description, TryParse<T> tryParse, Func<T, string> format) : SocketSerializer<T>
    {
        public override void Write(Utf8JsonWriter writer, T value) => writer.WriteStringValue(format(value));

        public override T Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            if (reader.TokenType == JsonTokenType.String && tryParse(reader.GetString()!, out var value))
            {
                return value;
            }

            Mismatch(ref reader, validation, description);
            return default!;
        }
    }

    private sealed class DateTimeSerializer : SocketSerializer<DateTime>
    {
        public override void Write(Utf8JsonWriter writer, DateTime value) => writer.WriteStringValue(value);

        public override DateTime Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            if (reader.TokenType == JsonTokenType.String && reader.TryGetDateTime(out var value))
            {
                return value;
            }

            Mismatch(ref reader, validation, "an ISO 8601 date and time");
            return default;
        }
    }

    private sealed class DateTimeOffsetSerializer : SocketSerializer<DateTimeOffset>
    {
        public override void Write(Utf8JsonWriter writer, DateTimeOffset value) => writer.WriteStringValue(value);

        public override DateTimeOffset Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            if (reader.TokenType == JsonTokenType.String && reader.TryGetDateTimeOffset(out var value))
            {
                return value;
            }

            Mismatch(ref reader, validation, "an ISO 8601 date and time with an offset");
            return default;
        }
    }

    private sealed class NullableValueSerializer<T>(SocketSerializer<T> inner) : SocketSerializer<T?> where T : struct
    {
        public override void Write(Utf8JsonWriter writer, T? value)
        {
            if (value is { } v)
            {
                inner.Write(writer, v);
            }
            else
            {
                writer.WriteNullValue();
            }
        }

        public override T? Read(ref Utf8JsonReader reader, SocketValidationContext validation) =>
            reader.TokenType == JsonTokenType.Null ? null : inner.Read(ref reader, validation);

        public override void Validate(T? value, SocketValidationContext validation)
        {
            if (value is { } v)
            {
                inner.Validate(v, validation);
            }
        }
    }

    private sealed class NullableReferenceSerializer<T>(SocketSerializer<T> inner) : SocketSerializer<T?> where T : class
    {
        public override void Write(Utf8JsonWriter writer, T? value)
        {
            if (value is null)
            {
                writer.WriteNullValue();
            }
            else
            {
                inner.Write(writer, value);
            }
        }

        public override T? Read(ref Utf8JsonReader reader, SocketValidationContext validation) =>
            reader.TokenType == JsonTokenType.Null ? null : inner.Read(ref reader, validation);

        public override void Validate(T? value, SocketValidationContext validation)
        {
            if (value is not null)
            {
                inner.Validate(value, validation);
            }
        }
    }

    private sealed class ListSerializer<T>(SocketSerializer<T> element) : SocketSerializer<List<T>>
    {
        public override void Write(Utf8JsonWriter writer, List<T> value)
        {
            writer.WriteStartArray();
            foreach (var item in value)
            {
                element.Write(writer, item);
            }

            writer.WriteEndArray();
        }

        public override List<T>? Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            if (reader.TokenType != JsonTokenType.StartArray)
            {
                Mismatch(ref reader, validation, "an array");
                return null;
            }

            var list = new List<T>();
            var index = 0;
            while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
            {
                validation.PushIndex(index++);
                list.Add(element.Read(ref reader, validation)!);
                validation.Pop();
            }

            return list;
        }

        public override void Validate(List<T> value, SocketValidationContext validation)
        {
            for (var i = 0; i < value.Count; i++)
            {
                validation.PushIndex(i);
                element.Validate(value[i], validation);
                validation.Pop();
            }
        }
    }

    private sealed class ArraySerializer<T>(SocketSerializer<T> element) : SocketSerializer<T[]>
    {
        private readonly ListSerializer<T> _list = new(element);

        public override void Write(Utf8JsonWriter writer, T[] value)
        {
            writer.WriteStartArray();
            foreach (var item in value)
            {
                element.Write(writer, item);
            }

            writer.WriteEndArray();
        }

        public override T[]? Read(ref Utf8JsonReader reader, SocketValidationContext validation) =>
            _list.Read(ref reader, validation)?.ToArray();

        public override void Validate(T[] value, SocketValidationContext validation)
        {
            for (var i = 0; i < value.Length; i++)
            {
                validation.PushIndex(i);
                element.Validate(value[i], validation);
                validation.Pop();
            }
        }
    }

    private sealed class CollectionSerializer<TCollection, T>(SocketSerializer<T> element, Func<List<T>, TCollection> fromList) : SocketSerializer<TCollection>
        where TCollection : IEnumerable<T>
    {
        private readonly ListSerializer<T> _list = new(element);

        public override void Write(Utf8JsonWriter writer, TCollection value)
        {
            writer.WriteStartArray();
            foreach (var item in value)
            {
                element.Write(writer, item);
            }

            writer.WriteEndArray();
        }

        public override TCollection? Read(ref Utf8JsonReader reader, SocketValidationContext validation) =>
            _list.Read(ref reader, validation) is { } list ? fromList(list) : default;

        public override void Validate(TCollection value, SocketValidationContext validation)
        {
            var i = 0;
            foreach (var item in value)
            {
                validation.PushIndex(i++);
                element.Validate(item, validation);
                validation.Pop();
            }
        }
    }

    private sealed class MapSerializer<TDictionary, T>(SocketSerializer<T> value, Func<Dictionary<string, T>, TDictionary> fromDictionary) : SocketSerializer<TDictionary>
        where TDictionary : IEnumerable<KeyValuePair<string, T>>
    {
        private readonly DictionarySerializer<T> _dictionary = new(value);

        public override void Write(Utf8JsonWriter writer, TDictionary dictionary)
        {
            writer.WriteStartObject();
            foreach (var (key, item) in dictionary)
            {
                writer.WritePropertyName(key);
                value.Write(writer, item);
            }

            writer.WriteEndObject();
        }

        public override TDictionary? Read(ref Utf8JsonReader reader, SocketValidationContext validation) =>
            _dictionary.Read(ref reader, validation) is { } dictionary ? fromDictionary(dictionary) : default;

        public override void Validate(TDictionary dictionary, SocketValidationContext validation)
        {
            foreach (var (key, item) in dictionary)
            {
                validation.PushProperty(key);
                value.Validate(item, validation);
                validation.Pop();
            }
        }
    }

    private sealed class DictionarySerializer<T>(SocketSerializer<T> value) : SocketSerializer<Dictionary<string, T>>
    {
        public override void Write(Utf8JsonWriter writer, Dictionary<string, T> dictionary)
        {
            writer.WriteStartObject();
            foreach (var (key, item) in dictionary)
            {
                writer.WritePropertyName(key);
                value.Write(writer, item);
            }

            writer.WriteEndObject();
        }

        public override Dictionary<string, T>? Read(ref Utf8JsonReader reader, SocketValidationContext validation)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                Mismatch(ref reader, validation, "an object");
                return null;
            }

            var dictionary = new Dictionary<string, T>(StringComparer.Ordinal);
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var key = reader.GetString()!;
                reader.Read();
                validation.PushProperty(key);
                var item = value.Read(ref reader, validation);
                if (!dictionary.TryAdd(key, item!))
                {
                    validation.AddError("The key appears more than once.");
                }

                validation.Pop();
            }

            return dictionary;
        }

        public override void Validate(Dictionary<string, T> dictionary, SocketValidationContext validation)
        {
            foreach (var (key, item) in dictionary)
            {
                validation.PushProperty(key);
                value.Validate(item, validation);
                validation.Pop();
            }
        }
    }
}
