using System.Globalization;
using System.Linq;
using Ori.Sockets.Generators.Helpers;
using Ori.Sockets.Generators.Model;

namespace Ori.Sockets.Generators.Emitting;

/// <summary>
/// Writes the serializer of one shape: a SocketSerializer with Write, Read (validation fused into
/// reading, with a JSON path per failure) and Validate (for values built in code).
/// </summary>
internal static class SerializerEmitter
{
    private const string Ser = "global::Ori.Sockets.Serialization.SocketSerializers";
    private const string Constraints = "global::Ori.Sockets.Serialization.SocketConstraints";
    private const string Json = "global::System.Text.Json";
    private const string Validation = "global::Ori.Sockets.SocketValidationContext";

    /// <summary>The expression of the serializer of <paramref name="type"/>.</summary>
    public static string Expression(TypeModel type)
    {
        var inner = type.Kind switch
        {
            SerialKind.Builtin => $"{Ser}.{type.Name}",
            SerialKind.Message => $"{type.Fqn}.Serializer",
            SerialKind.Object or SerialKind.Enum => $"global::Ori.Sockets.Generated.{type.Fqn.ToIdentifier()}_Serializer.Instance",
            SerialKind.NullableValue => $"{Ser}.Nullable({Expression(type.Element!)})",
            SerialKind.Array => $"{Ser}.Array({Expression(type.Element!)})",
            SerialKind.List when !type.IsInterface => $"{Ser}.List({Expression(type.Element!)})",
            SerialKind.List => $"{Ser}.Collection<{type.Fqn}, {type.Element!.DeclaredFqn}>({Expression(type.Element!)}, static list => list)",
            SerialKind.Dictionary when !type.IsInterface => $"{Ser}.Dictionary({Expression(type.Element!)})",
            _ => $"{Ser}.Map<{type.Fqn}, {type.Element!.DeclaredFqn}>({Expression(type.Element!)}, static dictionary => dictionary)",
        };
        return type.NullableReference ? $"{Ser}.OrNull({inner})" : inner;
    }

    /// <summary>
    /// The serializers of the plain types (not messages) this compilation's messages and routes reach, each once:
    /// <c>OriSockets.Serializers.g.cs</c>, internal classes in <c>Ori.Sockets.Generated</c>.
    /// </summary>
    public static string EmitShared(EquatableArray<ShapeModel> shapes)
    {
        var w = new SourceWriter();
        Header.Write(w);
        using (w.Block("namespace Ori.Sockets.Generated"))
        {
            for (var i = 0; i < shapes.Count; i++)
            {
                if (i > 0)
                {
                    w.Line();
                }

                w.Line(Header.GeneratedCode);
                Emit(w, shapes[i], "internal");
            }
        }

        return w.ToString();
    }

    public static void Emit(SourceWriter w, ShapeModel shape, string accessibility)
    {
        if (shape.IsEnum)
        {
            EmitEnum(w, shape, accessibility);
        }
        else
        {
            EmitObject(w, shape, accessibility);
        }
    }

    private static void EmitEnum(SourceWriter w, ShapeModel shape, string accessibility)
    {
        w.Line("/// <summary>Reads and writes " + shape.Name + " as one of its names.</summary>");
        using (w.Block($"{accessibility} static class {shape.SerializerName}"))
        {
            var names = string.Join(", ", shape.EnumMembers.Select(m => m.JsonName.ToLiteral()));
            var values = string.Join(", ", shape.EnumMembers.Select(m => $"{shape.Fqn}.{m.ClrName}"));
            w.Line($"public static readonly global::Ori.Sockets.Serialization.SocketEnumSerializer<{shape.Fqn}> Instance = new(new string[] {{ {names} }}, new {shape.Fqn}[] {{ {values} }});");
        }
    }

    private static void EmitObject(SourceWriter w, ShapeModel shape, string accessibility)
    {
        var members = shape.Members;
        w.Line("/// <summary>Reads (validating) and writes " + shape.Name + ".</summary>");
        using (w.Block($"{accessibility} sealed class {shape.SerializerName} : global::Ori.Sockets.SocketSerializer<{shape.Fqn}>"))
        {
            // Instance comes first: member serializers of a type that contains itself refer to it.
            w.Line($"public static readonly {shape.SerializerName} Instance = new();");
            foreach (var member in members)
            {
                w.Line($"private static readonly {Json}.JsonEncodedText {NameField(member)} = {Json}.JsonEncodedText.Encode({member.JsonName.ToLiteral()});");
                w.Line($"private static readonly global::Ori.Sockets.SocketSerializer<{member.Type.DeclaredFqn}> {SerializerField(member)} = {Expression(member.Type)};");
                if (member.Constraints.AllowedValues.Count > 0)
                {
                    var elementType = IsString(member.Type) ? "string?" : Core(member.Type).Fqn;
                    var values = member.Constraints.AllowedValues.Where(v => v != "null" || IsString(member.Type));
                    w.Line($"private static readonly {elementType}[] {AllowedField(member)} = new {elementType}[] {{ {string.Join(", ", values)} }};");
                }

                if (member.Constraints.Pattern is { } pattern)
                {
                    // Interpreted, not compiled: works under Native AOT; the time-out bounds hostile input.
                    w.Line($"private static readonly global::System.Text.RegularExpressions.Regex {PatternField(member)} = new({pattern.ToLiteral()}, global::System.Text.RegularExpressions.RegexOptions.CultureInvariant, global::System.TimeSpan.FromSeconds(1));");
                }
            }

            w.Line();
            EmitWrite(w, shape);
            w.Line();
            EmitRead(w, shape);
            w.Line();
            EmitValidate(w, shape);
        }
    }

    private static void EmitWrite(SourceWriter w, ShapeModel shape)
    {
        w.Line("/// <inheritdoc />");
        using (w.Block($"public override void Write({Json}.Utf8JsonWriter writer, {shape.Fqn} value)"))
        {
            w.Line("writer.WriteStartObject();");
            foreach (var member in shape.Members)
            {
                w.Line($"writer.WritePropertyName({NameField(member)});");
                if (member.Type.IsReferenceType && !member.Type.NullableReference)
                {
                    w.Line($"if (value.{member.ClrName} is null) {{ writer.WriteNullValue(); }} else {{ {SerializerField(member)}.Write(writer, value.{member.ClrName}); }}");
                }
                else
                {
                    w.Line($"{SerializerField(member)}.Write(writer, value.{member.ClrName});");
                }
            }

            w.Line("writer.WriteEndObject();");
        }
    }

    private static void EmitRead(SourceWriter w, ShapeModel shape)
    {
        var readable = shape.Members.Select((m, i) => (Member: m, Index: i)).Where(p => p.Member.CanRead).ToList();

        // The checks of each member, on the value read (read_Name…): written once, and they decide whether
        // reading must remember that the member was present (seen_Name).
        var checksOf = readable.ToDictionary(p => p.Index, p => ConstraintLines(p.Member, ReadLocal(p.Member)));
        bool NeedsPresence(MemberModel member, int index) =>
            member.Required || member.Setter is SetterKind.Set or SetterKind.Init || checksOf[index].Length > 0;

        w.Line("/// <inheritdoc />");
        using (w.Block($"public override {shape.Fqn}{(shape.IsValueType ? string.Empty : "?")} Read(ref {Json}.Utf8JsonReader reader, {Validation} validation)"))
        {
            using (w.Block($"if (reader.TokenType != {Json}.JsonTokenType.StartObject)"))
            {
                w.Line($"{Ser}.Mismatch(ref reader, validation, \"an object\");");
                w.Line("return default;");
            }

            w.Line();
            w.Line("var errorsBefore = validation.Errors.Count;");
            foreach (var (member, i) in readable)
            {
                // default! only where null is not a valid value: nothing reads it unless the JSON gave one.
                var initial = member.DefaultLiteral ?? (member.Type.IsReferenceType && !member.Type.NullableReference ? "default!" : "default");
                w.Line($"{member.Type.DeclaredFqn} {ReadLocal(member)} = {initial};");
                if (NeedsPresence(member, i))
                {
                    w.Line($"var {SeenLocal(member)} = false;");
                }
            }

            using (w.Block($"while (reader.Read() && reader.TokenType == {Json}.JsonTokenType.PropertyName)"))
            {
                foreach (var (member, i) in readable)
                {
                    using (w.Block($"if (reader.ValueTextEquals({member.JsonName.ToLiteral()}u8))"))
                    {
                        w.Line("reader.Read();");
                        w.Line($"validation.PushProperty({member.JsonName.ToLiteral()});");
                        w.Line($"{ReadLocal(member)} = {SerializerField(member)}.Read(ref reader, validation)!;");
                        if (NeedsPresence(member, i))
                        {
                            w.Line($"{SeenLocal(member)} = true;");
                        }

                        w.Line("validation.Pop();");
                        w.Line("continue;");
                    }
                }

                w.Line("// Members the type does not have are skipped, as System.Text.Json does by default.");
                w.Line("reader.Read();");
                w.Line("reader.Skip();");
            }

            w.Line();
            foreach (var (member, i) in readable)
            {
                var checks = checksOf[i];
                if (member.Required)
                {
                    w.Line($"if (!{SeenLocal(member)}) {{ {Constraints}.Missing(validation, {member.JsonName.ToLiteral()}); }}");
                    if (checks.Length > 0)
                    {
                        using (w.Block("else"))
                        {
                            foreach (var line in checks)
                            {
                                w.Line(line);
                            }
                        }
                    }
                }
                else if (checks.Length > 0)
                {
                    // Optional: its constraints apply to a value the JSON gave, not to its default.
                    using (w.Block($"if ({SeenLocal(member)})"))
                    {
                        foreach (var line in checks)
                        {
                            w.Line(line);
                        }
                    }
                }
            }

            w.Line();
            w.Line("if (validation.Errors.Count != errorsBefore) { return default; }");
            var ctorArgs = readable.Where(p => p.Member.ConstructorIndex >= 0).OrderBy(p => p.Member.ConstructorIndex).Select(p => $"{ReadLocal(p.Member)}!").ToList();
            if (ctorArgs.Count < shape.ConstructorParameterCount)
            {
                w.Line($"throw new global::System.NotSupportedException(\"{shape.Name} cannot be created from JSON.\");");
                return;
            }

            // Required members go in the initializer; the others are set only when the JSON has them,
            // so that their initializers (`= []`, `= 'A'`) stay when they are absent.
            var initializer = readable.Where(p => p.Member.Setter == SetterKind.RequiredMember).ToList();
            var later = readable.Where(p => p.Member.Setter is SetterKind.Set or SetterKind.Init).ToList();
            var creation = $"new {shape.Fqn}({string.Join(", ", ctorArgs)})";
            if (initializer.Count > 0)
            {
                creation += " { " + string.Join(", ", initializer.Select(p => $"{p.Member.ClrName} = {ReadLocal(p.Member)}!")) + " }";
            }

            if (later.Count == 0)
            {
                w.Line($"return {creation};");
                return;
            }

            w.Line($"var result = {creation};");
            foreach (var (member, _) in later)
            {
                w.Line(member.Setter == SetterKind.Set
                    ? $"if ({SeenLocal(member)}) {{ result.{member.ClrName} = {ReadLocal(member)}!; }}"
                    : $"if ({SeenLocal(member)}) {{ {InitAccessor(member)}({(shape.IsValueType ? "ref " : string.Empty)}result, {ReadLocal(member)}!); }}");
            }

            w.Line("return result;");
        }

        foreach (var (member, _) in readable.Where(p => p.Member.Setter == SetterKind.Init))
        {
            // An init accessor cannot be called after creation from C#; UnsafeAccessor calls it without reflection (AOT safe).
            w.Line();
            w.Line($"[global::System.Runtime.CompilerServices.UnsafeAccessor(global::System.Runtime.CompilerServices.UnsafeAccessorKind.Method, Name = \"set_{member.ClrName}\")]");
            w.Line($"private static extern void {InitAccessor(member)}({(shape.IsValueType ? "ref " : string.Empty)}{member.SetterOwnerFqn ?? shape.Fqn} target, {member.Type.DeclaredFqn} value);");
        }
    }

    private static string InitAccessor(MemberModel member) => "Init" + member.ClrName;

    // Identifiers named after the member: property names are unique in a type, and the underscore keeps them
    // apart from the method's own names (reader, validation, errorsBefore, result).
    private static string NameField(MemberModel member) => $"s_{member.ClrName}_Name";

    private static string SerializerField(MemberModel member) => $"s_{member.ClrName}_Serializer";

    private static string AllowedField(MemberModel member) => $"s_{member.ClrName}_Allowed";

    private static string PatternField(MemberModel member) => $"s_{member.ClrName}_Pattern";

    private static string ReadLocal(MemberModel member) => $"read_{member.ClrName}";

    private static string SeenLocal(MemberModel member) => $"seen_{member.ClrName}";

    private static void EmitValidate(SourceWriter w, ShapeModel shape)
    {
        w.Line("/// <inheritdoc />");
        using (w.Block($"public override void Validate({shape.Fqn} value, {Validation} validation)"))
        {
            foreach (var member in shape.Members)
            {
                var access = $"value.{member.ClrName}";
                if (member.Required && member.Type.IsReferenceType)
                {
                    w.Line($"if ({access} is null) {{ {Constraints}.Missing(validation, {member.JsonName.ToLiteral()}); }}");
                }

                foreach (var line in ConstraintLines(member, access))
                {
                    w.Line(line);
                }

                if (NeedsNestedValidation(member.Type))
                {
                    var guard = member.Type.IsReferenceType || member.Type.Kind == SerialKind.NullableValue ? $"if ({access} is not null) " : string.Empty;
                    w.Line($"{guard}{{ validation.PushProperty({member.JsonName.ToLiteral()}); {SerializerField(member)}.Validate({access}, validation); validation.Pop(); }}");
                }
            }
        }
    }

    private static bool NeedsNestedValidation(TypeModel type) =>
        type.Kind switch
        {
            SerialKind.Builtin => false,
            SerialKind.NullableValue => NeedsNestedValidation(type.Element!),
            _ => true,
        };

    private static string[] ConstraintLines(MemberModel member, string value)
    {
        var c = member.Constraints;
        var name = member.JsonName.ToLiteral();
        var lines = new System.Collections.Generic.List<string>();
        if (c.Required && IsString(member.Type))
        {
            lines.Add($"{Constraints}.RequiredText({value}, {(c.AllowEmptyStrings ? "true" : "false")}, validation, {name});");
        }

        if (c.MinLength is not null || c.MaxLength is not null)
        {
            var min = c.MinLength?.ToString(CultureInfo.InvariantCulture) ?? "0";
            var max = c.MaxLength?.ToString(CultureInfo.InvariantCulture) ?? "int.MaxValue";
            lines.Add(c.LengthIsCount
                ? $"{Constraints}.Count({value} is null ? -1 : global::System.Linq.Enumerable.Count({value}), {min}, {max}, validation, {name});"
                : $"{Constraints}.Length({value}, {min}, {max}, validation, {name});");
        }

        if (c.RangeMin is not null && c.RangeMax is not null)
        {
            lines.Add($"{Constraints}.Range((double?){value}, {Number(c.RangeMin.Value)}, {Number(c.RangeMax.Value)}, {Bool(c.RangeMinExclusive)}, {Bool(c.RangeMaxExclusive)}, validation, {name});");
        }

        if (c.AllowedValues.Count > 0)
        {
            lines.Add(IsString(member.Type)
                ? $"{Constraints}.Allowed({value}, {AllowedField(member)}, validation, {name});"
                : $"{Constraints}.Allowed<{Core(member.Type).Fqn}>({value}, {AllowedField(member)}, validation, {name});");
        }

        if (c.Pattern is not null)
        {
            lines.Add($"{Constraints}.Pattern({value}, {PatternField(member)}, validation, {name});");
        }

        return lines.ToArray();
    }

    private static TypeModel Core(TypeModel type) => type.Kind == SerialKind.NullableValue ? type.Element! : type;

    private static bool IsString(TypeModel type) => type.Kind == SerialKind.Builtin && type.Name == "String";

    private static string Bool(bool value) => value ? "true" : "false";

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "double.PositiveInfinity"
        : double.IsNegativeInfinity(value) ? "double.NegativeInfinity"
        : value.ToString("R", CultureInfo.InvariantCulture) + "d";
}
